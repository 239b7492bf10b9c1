"""``layershare report``, ``history`` and ``tree``: the layer index (pandas), logical versus physical
bytes, bases and base drift, the sharing tree, and reports as text or a page (served from the cache)."""

"""``layershare report``, ``history`` and ``tree``: the layer index (pandas), logical versus physical
bytes, bases and base drift, and the sharing tree (reports as text or a page: :mod:`layershare.reporting`)."""

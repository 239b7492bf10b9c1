"""``layershare browse``: the whole engine as one tree in the terminal, marks and what they free.

``tree`` makes the rows from an engine's state (``free``'s reading) and ``disk``'s walk, ``marks``
turns marked rows into ``free``'s plan, ``total`` keeps its freed bytes as a running total,
``session`` reads engines (and removes, only when asked and confirmed), ``rows`` and ``screens``
draw, and ``app`` is the Textual app that ties them to the keys.
"""

"""``layershare free``: what a removal or a prune frees, exactly, before anyone runs it.

``prune`` parses ``docker … prune`` commands and selectors, ``selection`` turns what the user asked
into a plan (``plan``) by the engine's rules (``engine_rules``, the one place they are written; BuildKit's
in ``build_cache``), ``whatif`` weighs a
plan on an engine's holdings, ``page_model`` reduces a state for the page's replay, and ``space``
is the library call that reads a live engine. ``layershare disk``'s reclaimable column is this
planner's ``docker system prune -a --volumes``.
"""

"""``layershare free`` and ``layershare plan``: what a removal or a prune frees, exactly, before anyone
runs it, and which removals reach a target, hurting least.

``prune`` parses ``docker … prune`` commands and selectors, ``selection`` turns what the user asked
into a plan (``plan``) by the engine's rules (``engine_rules``, the one place they are written; BuildKit's
in ``build_cache``), ``whatif`` weighs a plan on an engine's holdings, ``running`` keeps a running
total of it, ``page_model`` reduces a state for the page's replay. ``plan``'s choice: ``target`` (what
is asked), ``candidates`` (what may go, and when each was last used), ``choose`` (the least-harm
removals to the target), ``journal`` (the use journal), ``served`` (plans kept and served again),
``keeper`` (``--watch --apply``). ``space`` is the library call that reads a live engine.
``layershare disk``'s reclaimable column is this planner's ``docker system prune -a --volumes``.
"""

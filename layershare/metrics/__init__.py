"""``layershare metrics`` and ``serve``: Prometheus samples of the report and the disk (``samples``;
the background refresh behind ``/metrics`` is :mod:`layershare.serve`)."""

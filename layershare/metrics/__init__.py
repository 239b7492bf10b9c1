"""``layershare metrics`` and ``serve``: Prometheus samples of the report and the disk (``samples``)
and the background refresh behind ``/metrics`` (``serve``)."""

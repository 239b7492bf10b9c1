"""What a live engine holds, read once: its containers, volumes and build-cache records from the API
(:mod:`~layershare.sources.holdings.items`), and, per image store, which stored units each of them and
each image keeps (:mod:`~layershare.sources.holdings.graphdriver`,
:mod:`~layershare.sources.holdings.containerd`), put together by
:class:`~layershare.sources.holdings.reader.HoldingsReader`."""

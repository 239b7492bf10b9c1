"""``layershare serve``: keep every engine's sample fresh in the background and serve ``/metrics``.

Two background threads refresh the samples: one reads the images every ``interval`` seconds
(a new connection each time; nothing is collected when the engine's state digest is unchanged,
and the image cache makes a changed state cheap), one walks the disk every ``disk_interval``
seconds (logs and writable layers grow without changing the state digest). A scrape only reads
the latest samples, so slow engines never pile up requests. An engine that goes away gives
``layershare_up 0`` until it answers again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from layershare.errors import UsageError
from layershare.metrics.samples import EngineSample, collect_disk, collect_images, with_keeper

if TYPE_CHECKING:
    from layershare.disk.categories import CategoryUsage
    from layershare.sources.choice import SourceChoice
    from layershare.sources.engine import EngineSource

OpenEngine = Callable[["SourceChoice"], "EngineSource"]


class Exporter:
    """The latest sample of each engine, refreshed by :meth:`run` (thread-safe to read)."""

    def __init__(
        self,
        choices: Sequence[SourceChoice],
        open_engine: OpenEngine,
        *,
        top: int = 100,
        interval: float = 30.0,
        disk_interval: float | None = 600.0,
    ) -> None:
        self.choices = list(choices)
        self.open_engine = open_engine
        self.top = top
        self.interval = interval
        self.disk_interval = disk_interval
        self._images: dict[int, EngineSample] = {}
        self._disk: dict[int, tuple[tuple[CategoryUsage, ...] | None, float]] = {}
        self._lock = threading.Lock()
        self.ready = threading.Event()

    def samples(self) -> list[EngineSample]:
        """The latest sample of every engine collected so far, with its disk categories when walked."""
        with self._lock:
            out = []
            for k in sorted(self._images):
                sample = self._images[k]
                if k in self._disk and sample.up:
                    categories, seconds = self._disk[k]
                    sample = replace(sample, disk=categories, disk_seconds=seconds)
                out.append(with_keeper(sample))
            return out

    def collect_images(self) -> None:
        """Read every engine's images once (reusing a sample whose engine state is unchanged)."""
        for k, choice in enumerate(self.choices):
            last = self._images.get(k)
            sample = collect_images(self.open_engine(choice), top=self.top, last=last)
            with self._lock:
                self._images[k] = sample
        self.ready.set()

    def collect_disk(self) -> None:
        """Walk every engine's disk once."""
        for k, choice in enumerate(self.choices):
            categories, seconds, _why = collect_disk(self.open_engine(choice))
            with self._lock:
                if categories is None:
                    self._disk.pop(k, None)
                else:
                    self._disk[k] = (categories, seconds)

    def run(self, stop: threading.Event) -> list[threading.Thread]:
        """Start the background refresh threads (daemons); they end when ``stop`` is set."""
        threads = [threading.Thread(target=self._loop, args=(self.collect_images, self.interval, stop),
                                    name="layershare-images", daemon=True)]  # fmt: skip
        if self.disk_interval is not None:
            threads.append(
                threading.Thread(target=self._loop, args=(self.collect_disk, self.disk_interval, stop),
                                 name="layershare-disk", daemon=True)
            )  # fmt: skip
        for thread in threads:
            thread.start()
        return threads

    @staticmethod
    def _loop(work: Callable[[], None], every: float, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            work()
            stop.wait(max(0.0, every - (time.monotonic() - started)))


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:9473``, ``[::1]:9473`` or ``:9473`` (every address) -> (address, port)."""
    address, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text}: expected ADDRESS:PORT, e.g. 127.0.0.1:9473")
    return address.strip("[]") or "0.0.0.0", int(port)


def serve(exporter: Exporter, listen: str, stop: threading.Event) -> None:
    """Serve ``/metrics`` on ``listen`` until ``stop`` is set; the samples refresh in the background."""
    from prometheus_client import start_http_server

    from layershare.render.prometheus import registry_for

    address, port = parse_listen(listen)
    try:
        server, thread = start_http_server(port, addr=address, registry=registry_for(exporter.samples))
    except OSError as e:
        raise UsageError(f"cannot listen on {listen}: {e.strerror or e}") from e
    try:
        exporter.run(stop)
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

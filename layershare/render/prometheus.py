"""Samples as Prometheus metrics (prometheus_client): the text format, and the collector ``serve`` registers.

Every series has an ``engine`` label. An engine that could not be read has ``layershare_up 0``
and no other series but ``layershare_collect_seconds``, so a dashboard shows a gap, not stale bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from layershare.metrics.samples import EngineSample

_TOTALS = (
    ("layershare_physical_bytes", "physical_bytes", "Bytes the images store, each layer (and blob) once."),
    ("layershare_logical_bytes", "logical_bytes", "Sum of the images' sizes, each image once."),
    (
        "layershare_listed_bytes",
        "listed_bytes",
        "Sum of the SIZE column of docker image ls (one row per tag).",
    ),
    ("layershare_images", "images", "Images docker image ls lists."),
    ("layershare_layers", "layers", "Distinct stored layers the images use."),
)
# The keeper's counts (``plan --watch --apply``, saved in the cache folder), where one runs beside.
_KEEPER_COUNTERS = (
    ("layershare_keeper_checks", "checks", "Plans the keeper made (events or its interval)."),
    ("layershare_keeper_actions", "actions", "Times the keeper found its target missed and removed images."),
    ("layershare_keeper_removed_images", "removed_images", "Images the keeper removed."),
    (
        "layershare_keeper_freed_bytes",
        "freed_bytes",
        "Bytes the engine's accounting dropped by as it removed.",
    ),
    ("layershare_keeper_predicted_bytes", "predicted_bytes", "Bytes its plans said those removals free."),
    ("layershare_keeper_errors", "errors", "Checks that failed (the engine did not answer, ...)."),
)
_KEEPER_TIMES = (
    ("layershare_keeper_start_time_seconds", "started_at", "When the keeper started (Unix time)."),
    (
        "layershare_keeper_last_check_timestamp_seconds",
        "last_check_at",
        "The keeper's last plan (Unix time).",
    ),
    ("layershare_keeper_last_action_timestamp_seconds", "last_action_at", "Its last removal (0: none yet)."),
)
_PER_IMAGE = (
    ("layershare_image_size_bytes", "size_bytes", "The image's size as docker image ls shows it."),
    ("layershare_image_shared_bytes", "shared_bytes", "Bytes of the image's layers other images use too."),
    ("layershare_image_unique_bytes", "unique_bytes", "Bytes of the image's layers no other image uses."),
)


def metric_families(samples: Iterable[EngineSample]) -> list[Metric]:
    """The metric families of some engines' samples."""
    samples = list(samples)
    up = GaugeMetricFamily(
        "layershare_up", "1 when the engine answered at the last collection.", labels=["engine"]
    )
    seconds = GaugeMetricFamily(
        "layershare_collect_seconds", "Seconds the last collection of images took.", labels=["engine"]
    )
    totals = {name: GaugeMetricFamily(name, text, labels=["engine"]) for name, _, text in _TOTALS}
    images = {
        name: GaugeMetricFamily(name, text, labels=["engine", "image", "image_id"])
        for name, _, text in _PER_IMAGE
    }
    disk = GaugeMetricFamily(
        "layershare_disk_bytes",
        "Bytes of each category of layershare disk (the engine's figures where it has them, else the files').",
        labels=["engine", "category"],
    )
    allocated = GaugeMetricFamily(
        "layershare_disk_allocated_bytes",
        "Allocated bytes of each category of layershare disk, as du counts them (needs the data root).",
        labels=["engine", "category"],
    )
    disk_seconds = GaugeMetricFamily(
        "layershare_disk_collect_seconds", "Seconds the last walk of the disk took.", labels=["engine"]
    )
    keeper: list[CounterMetricFamily | GaugeMetricFamily]
    keeper = [CounterMetricFamily(n, t, labels=["engine"]) for n, _, t in _KEEPER_COUNTERS]
    keeper += [GaugeMetricFamily(n, t, labels=["engine"]) for n, _, t in _KEEPER_TIMES]
    keeper_keys = [k for _, k, _ in (*_KEEPER_COUNTERS, *_KEEPER_TIMES)]
    for sample in samples:
        engine = sample.engine
        for family, key in zip(keeper, keeper_keys, strict=True):
            if sample.keeper is not None and key in sample.keeper:
                family.add_metric([engine], float(sample.keeper[key]))
        up.add_metric([engine], 1.0 if sample.up else 0.0)
        seconds.add_metric([engine], sample.collect_seconds)
        if sample.up and sample.totals is not None:
            for name, attr, _ in _TOTALS:
                totals[name].add_metric([engine], float(getattr(sample.totals, attr)))
            for image in sample.images:
                for name, attr, _ in _PER_IMAGE:
                    images[name].add_metric(
                        [engine, image.image, image.image_id], float(getattr(image, attr))
                    )
        if sample.up and sample.disk is not None:
            for row in sample.disk:
                if row.bytes is not None:
                    disk.add_metric([engine, row.category], float(row.bytes))
                if row.disk_bytes is not None:
                    allocated.add_metric([engine, row.category], float(row.disk_bytes))
            if sample.disk_seconds is not None:
                disk_seconds.add_metric([engine], sample.disk_seconds)
    return [up, seconds, *totals.values(), *images.values(), disk, allocated, disk_seconds, *keeper]


class SampleCollector(Collector):
    """A collector that serves the latest samples it is given: a scrape never collects anything itself."""

    def __init__(self, latest: Callable[[], Sequence[EngineSample]]) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        yield from metric_families(self.latest())


def registry_for(latest: Callable[[], Sequence[EngineSample]]) -> CollectorRegistry:
    """A registry holding only layershare's series (no process or Python runtime series)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(latest))
    return registry


def render_metrics(samples: Sequence[EngineSample]) -> str:
    """The text exposition format of some samples."""
    return generate_latest(registry_for(lambda: samples)).decode()

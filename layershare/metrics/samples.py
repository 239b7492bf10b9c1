"""Samples for monitoring: what ``layershare metrics`` prints and ``layershare serve`` keeps serving.

One :class:`EngineSample` per engine: whether it answered, the report's totals, the images with
the most unique bytes (``top``, so the number of series stays bounded however many images a
host holds), and the categories of ``layershare disk`` when they were walked. Collecting is
here; turning samples into Prometheus' text format is :mod:`layershare.render.prometheus`;
the service that refreshes them in the background is :mod:`layershare.serve`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from layershare.errors import LayershareError
from layershare.ids import short_id

if TYPE_CHECKING:
    from layershare.disk.categories import CategoryUsage
    from layershare.report.analysis import Report, Totals
    from layershare.sources.engine import EngineSource


@dataclass(frozen=True)
class ImageSample:
    """One image's series: ``image`` is its first tag, else its short ID."""

    image: str
    image_id: str
    size_bytes: int
    shared_bytes: int
    unique_bytes: int


@dataclass(frozen=True)
class EngineSample:
    """One engine at one time; ``up`` False (with the ``failure``) when it could not be read."""

    engine: str
    up: bool
    collect_seconds: float
    totals: Totals | None = None
    images: tuple[ImageSample, ...] = ()
    disk: tuple[CategoryUsage, ...] | None = None
    disk_seconds: float | None = None
    failure: LayershareError | None = None
    state_digest: str = ""
    notes: tuple[str, ...] = field(default=())
    keeper_at: tuple[str, str] | None = None  # (cache folder, engine key) of a keeper's counts
    keeper: Mapping[str, float] | None = None  # its counts, read when the sample is served


def with_keeper(sample: EngineSample) -> EngineSample:
    """The sample with its engine's keeper's counts as the keeper last saved them (None: no keeper)."""
    if sample.keeper_at is None:
        return sample
    from pathlib import Path

    from layershare.cache import KeeperCounters

    folder, key = sample.keeper_at
    return replace(sample, keeper=KeeperCounters(Path(folder), key).times() or None)


def report_sample(engine: str, report: Report, *, top: int, seconds: float, digest: str = "") -> EngineSample:
    """A report as a sample: its totals and the ``top`` listed images by unique bytes."""
    images = report.images.loc[~report.images["intermediate"].to_numpy(dtype=bool)]
    largest = images.sort_values(["unique_bytes", "size_bytes"], ascending=False, kind="stable").head(top)
    samples = tuple(
        ImageSample(
            image=str(row["tags"][0]) if len(row["tags"]) else short_id(str(image_id)),
            image_id=str(image_id),
            size_bytes=int(row["size_bytes"]),
            shared_bytes=int(row["shared_bytes"]),
            unique_bytes=int(row["unique_bytes"]),
        )
        for image_id, row in largest.iterrows()
    )
    return EngineSample(
        engine=engine,
        up=True,
        collect_seconds=seconds,
        totals=report.totals,
        images=samples,
        state_digest=digest,
        notes=report.index.notes,
    )


def collect_images(source: EngineSource, *, top: int, last: EngineSample | None = None) -> EngineSample:
    """Read one engine's images into a sample; the last sample again when the engine's state is unchanged.

    An engine that cannot be read gives a sample with ``up`` False and the reason.
    """
    from layershare.report.analysis import build_report
    from layershare.report.index import LayerIndex

    label = source.where
    started = time.perf_counter()
    try:
        digest = source.state_digest()
        if last is not None and last.up and last.state_digest == digest:
            return last
        report = build_report(LayerIndex.from_snapshot(source.snapshot()))
    except LayershareError as e:
        return EngineSample(engine=label, up=False, collect_seconds=time.perf_counter() - started, failure=e)
    finally:
        source.close()
    sample = report_sample(label, report, top=top, seconds=time.perf_counter() - started, digest=digest)
    if source.cache_dir is None:
        return sample
    from layershare.cache import engine_key

    return replace(sample, keeper_at=(str(source.cache_dir), engine_key(source.light_answers()["info"])))


def collect_disk(source: EngineSource) -> tuple[tuple[CategoryUsage, ...] | None, float, str]:
    """One engine's disk categories (as ``layershare disk``), the seconds it took, and why not when None."""
    from layershare.disk.categories import disk_report
    from layershare.sources.disk.source import DiskSource

    started = time.perf_counter()
    try:
        categories = disk_report(DiskSource(source).snapshot()).categories
    except LayershareError as e:
        return None, time.perf_counter() - started, str(e)
    finally:
        source.close()
    return categories, time.perf_counter() - started, ""

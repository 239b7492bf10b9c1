"""What ``layershare diff`` and ``check --baseline`` compare: arguments turned into sides.

An argument naming an existing path is a file, its kind told by its content (a saved report,
a recording, a ``docker save`` archive or an OCI layout); anything else is an image reference
on the engine the source options name. An archive holding one image is that image; a report,
a recording or an archive of several images is a host. An image compared with a host is
compared with the host's image of the same repository (the same tag when there is one, else
the newest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from layershare.diff.files import diff_files
from layershare.diff.images import (
    HostDiff,
    HostSide,
    ImageDiff,
    diff_hosts,
    diff_images,
    image_row,
    image_side,
)
from layershare.disk.saved_diff import DiskDiff, diff_disks
from layershare.errors import ImageNotFound, UsageError
from layershare.free.engine_rules import normalise_reference, repository
from layershare.model import SavedDisk
from layershare.report.analysis import Totals, build_report, find_image
from layershare.report.index import LayerIndex
from layershare.sources.choice import SourceChoice, open_saved
from layershare.sources.interface import ContentSource, Source

SourceOpener = Callable[[SourceChoice], Source]


@dataclass(frozen=True)
class Side:
    """An argument read: its source, its index, and the image it names (None for a whole host)."""

    label: str
    source: Source
    index: LayerIndex
    image_id: str | None
    totals: Totals | None = None

    def host(self) -> HostSide:
        """The side as a whole host (a saved report keeps its own totals)."""
        return HostSide(self.label, self.index, self.totals or build_report(self.index).totals)


class Sides:
    """Reads arguments into sides; the engine is read once however many arguments name it."""

    def __init__(self, choice: SourceChoice, opener: SourceOpener) -> None:
        self.choice = choice
        self.opener = opener
        self._engine: tuple[Source, LayerIndex] | None = None
        self._files: dict[str, Side | SavedDisk] = {}

    def engine(self) -> tuple[Source, LayerIndex]:
        """The engine (or archives, recording) the source options name, read once."""
        if self._engine is None:
            source = self.opener(self.choice)
            self._engine = (source, LayerIndex.from_snapshot(source.snapshot()))
        return self._engine

    def side(self, argument: str) -> Side | SavedDisk:
        """One argument as a side (a saved ``layershare disk`` file as a :class:`SavedDisk`)."""
        if Path(argument).exists():
            if argument not in self._files:
                self._files[argument] = self._file(argument)
            return self._files[argument]
        source, index = self.engine()
        image_id = find_image(index, argument)
        if image_id is None:
            raise ImageNotFound(f"no image {argument!r} on {index.engine.host} (and no such file)")
        return Side(argument, source, index, image_id)

    def _file(self, path: str) -> Side | SavedDisk:
        from layershare.sources.archive import ArchiveSource
        from layershare.sources.recording.report import ReportFileSource

        source = open_saved(path, show_values=self.choice.show_values)
        if isinstance(source, SavedDisk):
            return source
        index = LayerIndex.from_snapshot(source.snapshot())
        totals = None
        if isinstance(source, ReportFileSource):
            saved = source.totals()
            totals = Totals(**{k: saved[k] for k in Totals.__dataclass_fields__ if k in saved})
        image_id = None
        if isinstance(source, ArchiveSource) and len(index.images) == 1:
            image_id = str(index.images.index[0])
        return Side(path, source, index, image_id, totals)


def counterpart(host: Side, image: Side) -> str:
    """The image of ``host`` that ``image`` is compared with: the same tag, else the same repository's newest."""
    assert image.image_id is not None
    tags = [normalise_reference(t) for t in image_row(image.index, image.image_id)["tags"]]
    if not tags and image.label and not Path(image.label).exists():
        tags = [normalise_reference(image.label)]
    found = counterpart_for(host.index, tags)
    if found is None:
        wanted = ", ".join(sorted({repository(t) for t in tags})) or "(untagged)"
        raise ImageNotFound(f"no image of repository {wanted} in {host.label}")
    return found


def counterpart_for(index: LayerIndex, tags: Sequence[str]) -> str | None:
    """The image of ``index`` with one of ``tags``, else the newest of their repositories, else None."""
    images = index.images.loc[~index.images["intermediate"].to_numpy(dtype=bool)]
    for tag in tags:
        hit = find_image(index, tag)
        if hit is not None:
            return hit
    repositories = {repository(t) for t in tags}
    same = images.loc[
        images["tags"].map(lambda ts: any(repository(t) in repositories for t in ts)).astype(bool)
    ]
    if not len(same):
        return None
    return str(same.sort_values("created", kind="stable").index[-1])


def compare(
    old: Side | SavedDisk, new: Side | SavedDisk, *, files: bool = False
) -> ImageDiff | HostDiff | DiskDiff:
    """Diff two sides: two images, two hosts, an image and its counterpart on a host, or two saved disks."""
    if isinstance(old, SavedDisk) or isinstance(new, SavedDisk):
        if not (isinstance(old, SavedDisk) and isinstance(new, SavedDisk)):
            raise UsageError("a saved 'layershare disk' file is compared with another one")
        if files:
            raise UsageError("--files compares two images, not two disks")
        return diff_disks(old, new)
    if old.image_id is None and new.image_id is None:
        if files:
            raise UsageError("--files compares two images, not two hosts")
        return diff_hosts(old.host(), new.host())
    old_id = old.image_id if old.image_id is not None else counterpart(old, new)
    new_id = new.image_id if new.image_id is not None else counterpart(new, old)
    both = set(image_row(old.index, old_id)["tags"]) & set(image_row(new.index, new_id)["tags"])
    labels = [normalise_reference(s.label) for s in (old, new) if not Path(s.label).exists()]
    names = (*sorted(both, key=lambda t: (t not in labels, t)), *labels)
    result = diff_images(
        image_side(old.index, old_id, old.label, names), image_side(new.index, new_id, new.label, names)
    )
    if not files:
        return result
    from dataclasses import replace

    readers = [s.source for s in (old, new)]
    if not all(isinstance(r, ContentSource) for r in readers):
        kinds = [s.label for s in (old, new) if not isinstance(s.source, ContentSource)]
        note = f"files not compared: {', '.join(kinds)} hold(s) no layer contents (a report or a recording)"
        return replace(result, notes=(*result.notes, note))
    old_reader, new_reader = readers
    assert isinstance(old_reader, ContentSource) and isinstance(new_reader, ContentSource)
    changes = diff_files(
        old_reader.image_content(old_id), new_reader.image_content(new_id), result.common_layers
    )
    return replace(result, files=changes)


def baseline_diffs(
    sides: Sides, image_ids: Sequence[str], specs: Sequence[str]
) -> tuple[dict[str, ImageDiff], dict[str, str]]:
    """Each checked image against its baseline: the diffs, and why an image has none.

    A spec is ``REF_OR_FILE`` (every checked image against its counterpart there; a reference
    serves one checked image only) or ``IMAGE=REF_OR_FILE`` (repeatable). A baseline the user
    paired with an image that cannot be found raises :class:`ImageNotFound`.
    """
    _, index = sides.engine()
    paired: dict[str, str] = {}
    shared: str | None = None
    for spec in specs:
        name, sep, value = spec.partition("=")
        if sep and not Path(spec).exists():
            image_id = find_image(index, name)
            if image_id is None or image_id not in image_ids:
                raise UsageError(f"--baseline {spec}: {name!r} is not one of the images checked")
            paired[image_id] = value
        elif shared is not None:
            raise UsageError("--baseline without IMAGE= is given once; pair several with IMAGE=REF_OR_FILE")
        else:
            shared = spec
    if shared is not None and not Path(shared).exists() and len(image_ids) > 1:
        raise UsageError(f"--baseline {shared}: an image reference is the baseline of one image; pair "
                         "several with --baseline IMAGE=REF_OR_FILE")  # fmt: skip
    diffs: dict[str, ImageDiff] = {}
    reasons: dict[str, str] = {}
    for image_id in image_ids:
        wanted = paired.get(image_id, shared)
        if wanted is None:
            reasons[image_id] = "no --baseline for this image"
            continue
        checked = Side(str(image_row(index, image_id)["reference"]), sides.engine()[0], index, image_id)
        try:
            found = sides.side(wanted)
        except ImageNotFound as e:
            raise ImageNotFound(f"baseline missing: {e}") from None
        if isinstance(found, SavedDisk):
            raise UsageError(f"--baseline {wanted}: a saved 'layershare disk' holds no images")
        baseline = found
        if baseline.image_id is None:
            try:
                baseline = Side(wanted, baseline.source, baseline.index, counterpart(baseline, checked))
            except ImageNotFound as e:
                if image_id in paired or len(image_ids) == 1:
                    raise ImageNotFound(f"baseline missing: {e}") from None
                reasons[image_id] = f"baseline missing: {e}"
                continue
        result = compare(baseline, checked)
        assert isinstance(result, ImageDiff)
        diffs[image_id] = result
    return diffs, reasons

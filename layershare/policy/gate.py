"""The check itself: gather each image's facts, evaluate every enabled rule, collect the results.

Facts come from the index (sizes, layers, unique bytes), from
:mod:`layershare.report.bases` (base, drift) and, when a content rule is enabled and
a source can stream image archives, from :mod:`layershare.policy.waste`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from layershare.diff.images import ImageDiff
from layershare.errors import ImageNotFound, LayershareError
from layershare.ids import chain_ids
from layershare.model import DupesInput, EngineInfo, ImageContent
from layershare.policy.config import Policy
from layershare.policy.duplicates import own_duplicates
from layershare.policy.rules import CONTENT_RULES, ImageFacts, Result, Status
from layershare.policy.waste import Waste, analyse_waste
from layershare.report.analysis import image_usage
from layershare.report.bases import Drift, base_drift, find_bases
from layershare.report.index import LayerIndex
from layershare.units import human_size

ReadContent = Callable[[str], ImageContent]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CheckReport:
    """Everything ``layershare check`` found: facts per image, drift, waste and the rule results."""

    engine: EngineInfo
    policy: Policy
    facts: tuple[ImageFacts, ...]
    drift: tuple[Drift, ...]
    waste: Mapping[str, Waste]
    results: tuple[Result, ...]
    notes: tuple[str, ...] = field(default=())
    instructions: Mapping[str, dict[int, str]] = field(default_factory=dict)
    baselines: Mapping[str, ImageDiff] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no rule failed (warnings and skips do not fail a check)."""
        return not any(r.status is Status.FAIL for r in self.results)

    def count(self, status: Status) -> int:
        """How many results have ``status``."""
        return sum(1 for r in self.results if r.status is status)


def select_for_check(index: LayerIndex, references: Sequence[str]) -> list[str]:
    """Image IDs to check: those named (tag, ID or digest), else every listed image."""
    from layershare.report.analysis import find_image

    if not references:
        images = index.images
        return [str(i) for i in images.index[~images["intermediate"].to_numpy(dtype=bool)]]
    ids = []
    for name in references:
        image_id = find_image(index, name)
        if image_id is None:
            raise ImageNotFound(f"no image {name!r} on {index.engine.host}")
        if image_id not in ids:
            ids.append(image_id)
    return ids


def run_check(
    index: LayerIndex,
    policy: Policy,
    image_ids: Sequence[str],
    *,
    read_content: ReadContent | None = None,
    progress: Progress | None = None,
    baselines: Mapping[str, ImageDiff] | None = None,
    baseline_reasons: Mapping[str, str] | None = None,
    dupes: DupesInput | str | None = None,
) -> CheckReport:
    """Check ``image_ids``; ``read_content`` streams an image's archive (None: content rules skip).

    ``baselines`` holds each image's diff against its baseline (``check --baseline``) and
    ``baseline_reasons`` why an image has none; the growth rules skip without one. ``dupes`` is every
    stored layer's files on the engine (``layershare dupes``), or why they were not read: the
    duplicate rule skips without them.
    """
    baselines = baselines or {}
    baseline_reasons = baseline_reasons or {}
    bases = find_bases(index)
    drift = base_drift(index, bases)
    usage = image_usage(index)
    notes = list(index.notes)
    wants_content = any(r.key in CONTENT_RULES for r in policy.enabled)
    waste: dict[str, Waste] = {}
    waste_reason: dict[str, str] = {}
    if wants_content and read_content is None:
        reason = "layer contents were not read (--no-content, or a recording, which holds none)"
        waste_reason = dict.fromkeys(image_ids, reason)
    elif wants_content and read_content is not None:
        for done, image_id in enumerate(image_ids, 1):
            waste_for(index, bases, image_id, read_content, policy.top_wasted, waste, waste_reason)
            if progress:
                progress(done, len(image_ids))
    facts = tuple(
        _with_growth(
            _facts(index, bases, drift, usage, i, waste.get(i), waste_reason.get(i)),
            baselines.get(i),
            baseline_reasons.get(i),
        )
        for i in image_ids
    )
    if dupes is not None:
        facts = _with_duplicates(facts, index, bases, dupes)
    results = tuple(rule.evaluate(f) for f in facts for rule in policy.enabled)
    for d in drift:
        notes.append(f"base drift: {drift_text(d)}" + (f" ({d.note})" if d.note else ""))
    instructions = {i: dict(enumerate(index.layers.loc[list(index.chains[i]), "created_by"])) for i in waste}
    return CheckReport(
        instructions=instructions,
        engine=index.engine,
        policy=policy,
        facts=facts,
        drift=tuple(drift),
        waste=waste,
        results=results,
        notes=tuple(notes),
        baselines={i: d for i, d in baselines.items() if i in image_ids},
    )


def _with_duplicates(
    facts: tuple[ImageFacts, ...], index: LayerIndex, bases: pd.DataFrame, dupes: DupesInput | str
) -> tuple[ImageFacts, ...]:
    """Each image's duplicate bytes: its own layers (above its base) against every other stored layer."""
    from dataclasses import replace

    if isinstance(dupes, str):
        return tuple(replace(f, duplicate_reason=dupes) for f in facts)
    own = {}
    for f in facts:
        depth: Any = bases.at[f.image_id, "base_layers"] if f.image_id in bases.index else None
        chains = index.chains.get(f.image_id, ())
        own[f.image_id] = chains[0 if depth is None or pd.isna(depth) else int(depth) :]
    found = own_duplicates(dupes, own)
    return tuple(
        replace(f, duplicate_bytes=found[f.image_id][0], duplicate_detail=found[f.image_id][1]) for f in facts
    )


def growth_detail(diff: ImageDiff) -> str:
    """``app:2 424MB vs baseline app:1 212MB (sha256:…); new layers: 5 `RUN pip install …` +180MB``."""
    old, new = diff.old, diff.new
    text = f"{new.name} {human_size(new.size_bytes)} vs baseline {old.name} {human_size(old.size_bytes)}" + (
        f" ({old.label})" if old.label != old.name else ""
    )
    grown = sorted(diff.added_layers, key=lambda layer: -layer.size_bytes)[:3]
    if grown:
        listed = ", ".join(
            f"{layer.position} `{_one_line(layer.created_by or '(no instruction recorded)')}` "
            f"+{human_size(layer.size_bytes)}"
            for layer in grown
        )
        more = len(diff.added_layers) - len(grown)
        text += f"; new layers: {listed}" + (f" and {more} more" if more > 0 else "")
    return text


def _one_line(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _with_growth(facts: ImageFacts, diff: ImageDiff | None, reason: str | None) -> ImageFacts:
    from dataclasses import replace

    if diff is None:
        return replace(facts, growth_reason=reason or "no --baseline given")
    return replace(
        facts,
        baseline_reference=diff.old.name,
        baseline_bytes=diff.old.size_bytes,
        growth_bytes=diff.size_change_bytes,
        growth_ratio=diff.size_change_ratio,
        growth_reason="" if diff.size_change_ratio is not None else "the baseline image is empty",
        growth_detail=growth_detail(diff),
    )


def waste_for(
    index: LayerIndex,
    bases: pd.DataFrame,
    image_id: str,
    read_content: ReadContent,
    top: int,
    waste: dict[str, Waste],
    reasons: dict[str, str],
) -> None:
    """Stream one image's archive and replay its layers; failures become a skip reason."""
    try:
        contents = read_content(image_id)
    except ImageNotFound:
        reasons[image_id] = "the image was removed while checking"
        return
    except LayershareError as e:
        reasons[image_id] = f"its archive could not be read: {e}"
        return
    if tuple(chain_ids(list(contents.diff_ids))) != index.chains.get(image_id, ()):
        reasons[image_id] = "the archive's layers are not the image's layers"
        return
    depth: Any = bases.at[image_id, "base_layers"]
    waste[image_id] = analyse_waste(contents, 0 if pd.isna(depth) else int(depth), top=top)


def drift_text(d: Drift) -> str:
    """``runtime: runtime:2, runtime:3; rebasing onto runtime:3 frees 300kB``."""
    if d.freed_exact:
        freed = human_size(d.freed_bytes)
    elif d.freed_bytes:
        freed = f"at least {human_size(d.freed_bytes)}"
    else:
        freed = "an unknown number of bytes"
    return f"{d.repository}: {', '.join(d.versions)}; rebasing onto {d.target or 'one version'} frees {freed}"


def _facts(
    index: LayerIndex,
    bases: pd.DataFrame,
    drift: Sequence[Drift],
    usage: pd.DataFrame,
    image_id: str,
    waste: Waste | None,
    waste_reason: str | None,
) -> ImageFacts:
    image: dict[Any, Any] = index.images.loc[image_id].to_dict()
    base: dict[Any, Any] = bases.loc[image_id].to_dict()
    repo = base["base_repository"] if isinstance(base["base_repository"], str) else None
    drifting = sorted((d for d in drift if image_id in d.image_ids), key=lambda d: -d.count)
    versions: int | None
    if drifting:
        versions, detail = drifting[0].count, drift_text(drifting[0])
    elif repo is not None:
        versions, detail = 1, f"{repo}: one version"
    else:
        versions, detail = None, ""
    base_bytes = None if pd.isna(base["base_bytes"]) else int(base["base_bytes"])
    share = None if pd.isna(base["base_share"]) else float(base["base_share"])
    return ImageFacts(
        image_id=image_id,
        reference=str(image["reference"]),
        tags=tuple(image["tags"]),
        size_bytes=int(image["size_bytes"]),
        layers=int(image["layers"]),
        unique_bytes=int(usage["unique_bytes"].loc[image_id]),
        base_reference=base["base_reference"] if isinstance(base["base_reference"], str) else None,
        base_bytes=base_bytes,
        base_share=None if share is None or math.isnan(share) else share,
        base_reason=str(base["base_reason"]),
        base_repository=repo,
        drift_versions=versions,
        drift_detail=detail,
        wasted_bytes=waste.wasted_bytes if waste else None,
        wasted_ratio=waste.wasted_ratio if waste else None,
        efficiency=waste.efficiency if waste else None,
        waste_reason=waste_reason or ("" if waste else "content rules are off"),
    )

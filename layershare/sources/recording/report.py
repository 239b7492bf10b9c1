"""Saved reports read back: a ``layershare report --format json`` file as a source.

A ``layershare.report/v1`` document holds each image it covers with its engine size and,
since images gained ``chain_ids``, its layer chain; ``layers`` holds every stored layer those
images use. That is enough to compare two saved reports, or a saved report with an engine,
layer by layer (``layershare diff``, ``check --baseline``). A report written before
``chain_ids`` still compares image by image; the snapshot then notes that its layers are unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from layershare.errors import SnapshotError
from layershare.model import NO_CHAIN_NOTE, Blob, EngineInfo, Image, ImageStore, Layer, Snapshot
from layershare.sources.interface import Source

REPORT_SCHEMA = "layershare.report/v1"
_STORES: tuple[ImageStore, ...] = ("graphdriver", "containerd", "archive", "unknown")


class ReportFileSource(Source):
    """A saved ``layershare.report/v1`` document as a source (its images and their layers)."""

    def __init__(self, path: str | Path, document: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.document = document
        if document.get("schema") != REPORT_SCHEMA:
            raise SnapshotError(
                f"{path} is not a layershare report (schema {document.get('schema')!r}, "
                f"expected {REPORT_SCHEMA!r})"
            )

    def totals(self) -> Mapping[str, int]:
        """The report's own totals (physical bytes include blobs the file does not list)."""
        totals = self.document.get("totals")
        if not isinstance(totals, Mapping):
            raise SnapshotError(f"report {self.path} has no totals")
        return {str(k): int(v) for k, v in totals.items() if isinstance(v, int)}

    def snapshot(self) -> Snapshot:
        """The report's images and layers as the model."""
        try:
            return self._snapshot()
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise SnapshotError(f"report {self.path} is malformed: {type(e).__name__}: {e}") from e

    def _snapshot(self) -> Snapshot:
        doc = self.document
        layers = {
            str(row["chain_id"]): Layer(
                chain_id=str(row["chain_id"]),
                diff_id=str(row["diff_id"]),
                parent_chain_id=row.get("parent_chain_id"),
                size_bytes=int(row["size_bytes"]),
                created_by=str(row.get("created_by") or ""),
                size_exact=bool(row.get("exact", True)),
                blob_bytes=row.get("blob_bytes"),
            )
            for row in doc["layers"]
        }
        images = []
        chainless = 0
        for row in doc["images"]:
            chain = tuple(str(c) for c in row.get("chain_ids") or ())
            if "chain_ids" not in row:
                chainless += 1
            missing = [c for c in chain if c not in layers]
            if missing:
                raise ValueError(
                    f"image {row['id']} names layer {missing[0]}, which the report does not list"
                )
            images.append(
                Image(
                    id=str(row["id"]),
                    tags=tuple(row.get("tags") or ()),
                    digests=tuple(row.get("digests") or ()),
                    created=str(row.get("created") or ""),
                    size_bytes=int(row["size_bytes"]),
                    diff_ids=tuple(layers[c].diff_id for c in chain),
                    chain_ids=chain,
                    history=(),
                    containers=int(row.get("containers") or 0),
                    intermediate=bool(row.get("intermediate", False)),
                    parent_id=row.get("parent_id") or None,
                    platforms=tuple(row.get("platforms") or ()),
                )
            )
        notes = [str(n) for n in doc.get("notes") or ()]
        if chainless:
            notes.append(
                f"{self.path}: {chainless} image(s) have {NO_CHAIN_NOTE} (a report written before they were "
                "added): their layers are not compared"
            )
        engine: Mapping[str, Any] = doc.get("engine") or {}
        store = engine.get("image_store")
        return Snapshot(
            engine=EngineInfo(
                host=str(engine.get("host") or self.path),
                version=str(engine.get("version") or ""),
                api_version=str(engine.get("api_version") or ""),
                image_store=store if store in _STORES else "unknown",
                storage_driver=str(engine.get("storage_driver") or ""),
                os=str(engine.get("os") or ""),
                arch=str(engine.get("arch") or ""),
                namespaces=tuple(str(n) for n in engine.get("namespaces") or ()),
            ),
            duplicate_bytes=int((doc.get("totals") or {}).get("duplicate_bytes") or 0),
            # A saved report lists the builder's step snapshots together only: one step, held by no image.
            steps=tuple(
                Blob(digest="saved:steps", size_bytes=int(total), kind="step")
                for total in [(doc.get("totals") or {}).get("step_snapshot_bytes") or 0]
                if total
            ),
            images=tuple(images),
            layers=tuple(layers.values()),
            notes=tuple(notes),
            collected_at=str(doc.get("collected_at") or ""),
        )

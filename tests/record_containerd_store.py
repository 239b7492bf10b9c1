"""Record a real Engine 26.1 containerd image store for the unit tests (needs root; run by hand).

    python tests/record_containerd_store.py tests/data/containerd-store-26.1

Starts a private Engine 26.1 with the containerd image store, builds
``examples/corpus.py``, and copies out what the store's readers read: the
snapshotter's and containerd's metadata bbolt files (gzipped), and the content
store's JSON blobs (indexes, manifests, configs). Layer blobs become empty
files of the same name: their weight is in ``usage.json``. Ground truth comes
from tools other than layershare: ``du``/``stat`` for what each file and folder
weighs, containerd's own ``ctr`` for the snapshots (kind, parent, size) and the
content labels (each layer blob's uncompressed diff ID), the Engine API for
each image's layers and history, and ``GET /system/df``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import docker
from corpus import build_corpus
from devengine import PrivateEngine, start_private_engine

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / ".cache" / "engines" / "docker-26.1" / "usr" / "sbin" / "dockerd"
CTR = ENGINE.parent.parent / "bin" / "ctr"
CONTENT = "io.containerd.content.v1.content"
SNAPSHOTTER = "io.containerd.snapshotter.v1.overlayfs"
METADATA = "io.containerd.metadata.v1.bolt"


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def du(path: Path) -> int:
    """``du -s --block-size=1``: a file, or a folder and all it holds."""
    return int(run("du", "-s", "--block-size=1", str(path)).split()[0])


def entry(path: Path) -> int:
    """What one file or folder entry alone takes (``stat``: blocks times block size)."""
    blocks, size = run("stat", "--format=%b %B", str(path)).split()
    return int(blocks) * int(size)


def ctr(engine: PrivateEngine, *args: str) -> str:
    sock = engine.folder / "exec" / "containerd" / "containerd.sock"
    return run(str(CTR), "-a", str(sock), "-n", "moby", *args)


def snapshots(engine: PrivateEngine) -> dict[str, dict[str, Any]]:
    """Every snapshot of the moby namespace as ``ctr`` sees it: kind, parent, size in bytes."""
    sizes = {}
    for line in ctr(engine, "snapshots", "usage", "-b").splitlines()[1:]:
        key, size, _inodes = line.split()
        sizes[key] = int(size)
    found = {}
    for key in sizes:
        info = json.loads(ctr(engine, "snapshots", "info", key))
        found[key] = {"kind": info["Kind"], "parent": info.get("Parent") or None, "size": sizes[key]}
    return found


def content_labels(engine: PrivateEngine) -> dict[str, dict[str, str]]:
    """Every content blob's labels, as ``ctr content ls`` prints them."""
    labels = {}
    for line in ctr(engine, "content", "ls").splitlines()[1:]:
        fields = line.split("\t")  # DIGEST, SIZE, AGE, LABELS, padded with extra tabs
        pairs = [p.split("=", 1) for p in fields[-1].strip().split(",") if "=" in p]
        labels[fields[0].strip()] = {k: v for k, v in pairs}
    return labels


def main(out: str) -> None:
    dest = Path(out)
    engine = start_private_engine(dockerd=ENGINE, containerd_store=True)
    try:
        build_corpus(engine.docker)
        api = docker.APIClient(base_url=engine.host, version="auto")
        store = engine.data_root / "containerd" / "daemon"
        blob_dir = store / CONTENT / "blobs" / "sha256"
        snap_dir = store / SNAPSHOTTER / "snapshots"
        shutil.rmtree(dest, ignore_errors=True)
        (dest / CONTENT / "blobs" / "sha256").mkdir(parents=True)
        (dest / SNAPSHOTTER).mkdir(parents=True)
        usage: dict[str, int] = {}
        for blob in sorted(blob_dir.iterdir()):
            relative = blob.relative_to(store).as_posix()
            usage[relative] = du(blob)
            data = blob.read_bytes()
            try:
                json.loads(data)
            except ValueError:
                data = b""  # a layer: only its name is kept, its weight is in usage.json
            (dest / relative).write_bytes(data)
        for folder in sorted(snap_dir.iterdir()):
            relative = folder.relative_to(store).as_posix()
            usage[relative] = entry(folder)
            if (folder / "work").exists():
                usage[f"{relative}/work/"] = du(folder / "work")
            usage[f"{relative}/"] = du(folder)
        for name, source in (
            (f"{SNAPSHOTTER}/metadata.db.gz", store / SNAPSHOTTER / "metadata.db"),
            (f"{METADATA}/meta.db.gz", store / METADATA / "meta.db"),
        ):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(gzip.compress(source.read_bytes(), mtime=0))
        images = []
        for summary in api.images(all=True):
            inspect = api.inspect_image(summary["Id"])
            images.append(
                {
                    "Id": summary["Id"],
                    "RepoTags": summary.get("RepoTags") or [],
                    "Layers": inspect["RootFS"]["Layers"],
                    "history_entries": len(api.history(summary["Id"])),
                }
            )
        df = api.df()
        truth = {
            "engine": {k: api.version()[k] for k in ("Version", "ApiVersion")},
            "architecture": api.info()["Architecture"],
            "images": sorted(images, key=lambda i: i["Id"]),
            "system_df": {"LayersSize": df["LayersSize"]},
            "snapshots": snapshots(engine),
            "content_labels": content_labels(engine),
            "du": {
                "blob_files": du(blob_dir) - entry(blob_dir),
                "snapshot_folders": du(snap_dir) - entry(snap_dir),
            },
        }
        (dest / "usage.json").write_text(json.dumps(usage, indent=1, sort_keys=True) + "\n")
        (dest / "ground_truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    finally:
        engine.stop()
    total = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"recorded {len(list(dest.rglob('*')))} files, {total} bytes, in {dest}", file=sys.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("record_containerd_store.py needs root (it starts a private engine)")
    main(sys.argv[1])

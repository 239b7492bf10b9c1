"""A corpus of real Debian packages in several images, and what ``layershare dupes`` finds in it, beside
Zhao et al.'s figures for Docker Hub (docs/dupes.md).

    sudo .venv/bin/python examples/debian_dupes.py [--keep-debs DIR]

Downloads Debian 12's packages (``apt-get download``: the machine's package registry, nothing else),
unpacks each set with ``dpkg-deb -x`` into a layer and loads, into a private engine, images built the
ways that store the same files again:

- two bases (``base-a``, ``base-b``) holding the same runtime libraries in layers of their own;
- Python's packages in one layer on each base (the same diff ID on two parents: stored twice);
- Perl's packages alone, and again over Python on base-a (a layer on another parent);
- base-a after libssl3's minor version bump (``base-a2``), and Python on it;
- three apps on Python on base-a, each with a small file of its own (shared layers, stored once).

Then it prints the images' listed, logical and stored bytes (``report``) and what ``dupes`` finds:
stored copies, distinct contents, the fraction of files unique after file-level deduplication, and the
layer-level and file-level deduplication ratios (logical bytes over what each keeps).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from corpus import ArchiveImage, write_load_archive  # noqa: E402
from devengine import start_private_engine  # noqa: E402

RUNTIME = ["libc6", "libcrypt1", "zlib1g", "libssl3=3.0.20-1~deb12u2", "libgcc-s1", "libstdc++6"]
BUMPED = ["libssl3=3.0.22-1~deb12u2"]
PYTHON = [
    "libpython3.11-minimal", "libpython3.11-stdlib", "python3.11-minimal", "libffi8", "libexpat1",
    "libsqlite3-0", "libbz2-1.0", "liblzma5", "libncursesw6", "libtinfo6", "libreadline8", "libuuid1",
    "libgdbm6", "libdb5.3", "media-types", "tzdata",
]  # fmt: skip
PERL = ["perl-base", "perl-modules-5.36", "libperl5.36", "libgdbm-compat4"]


def download(packages: list[str], folder: Path) -> list[Path]:
    """``apt-get download`` each package (a pinned version where given) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", *packages], cwd=folder, check=True, capture_output=True)
    found = []
    for package in packages:
        name, _, version = package.partition("=")
        pattern = f"{name}_{version.replace(':', '%3a')}_*.deb" if version else f"{name}_*.deb"
        matches = sorted(folder.glob(pattern))
        if not matches:
            raise SystemExit(f"apt-get download {package}: no .deb")
        found.append(matches[-1])
    return found


def layer(debs: list[Path]) -> bytes:
    """One layer: the packages unpacked (``dpkg-deb -x``) and tarred as the engine's layers are."""
    with tempfile.TemporaryDirectory() as tree:
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), tree], check=True)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(Path(tree).rglob("*")):
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(tree)))
                info.mtime, info.uname, info.gname = 1_700_000_000, "", ""
                if info.isreg():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        return buffer.getvalue()


def images(debs: Path) -> list[ArchiveImage]:
    runtime = download(RUNTIME, debs)
    bumped = download(BUMPED, debs)
    base_a = layer(runtime)
    base_b = layer([*runtime, *download(["libuuid1"], debs)])  # the same libraries, another layer
    base_a2 = layer([d for d in runtime if not d.name.startswith("libssl3_")] + bumped)
    python, perl = layer(download(PYTHON, debs)), layer(download(PERL, debs))

    def own(n: int) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            body = f"app {n}\n".encode() * 1000
            info = tarfile.TarInfo(f"srv/app{n}.txt")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        return buffer.getvalue()

    add = "ADD rootfs.tar / # buildkit"
    run = "RUN apt-get install -y {} # buildkit"
    return [
        ArchiveImage(["base-a:12"], [(add, base_a)]),
        ArchiveImage(["base-b:12"], [(add, base_b)]),
        ArchiveImage(["base-a:12.1"], [(add, base_a2)]),
        ArchiveImage(["python-a:3.11"], [(add, base_a), (run.format("python3.11"), python)]),
        ArchiveImage(["python-b:3.11"], [(add, base_b), (run.format("python3.11"), python)]),
        ArchiveImage(["python-a2:3.11"], [(add, base_a2), (run.format("python3.11"), python)]),
        ArchiveImage(["perl-a:5.36"], [(add, base_a), (run.format("perl"), perl)]),
        ArchiveImage(["python-perl-a:1"], [(add, base_a), (run.format("python3.11"), python), (run.format("perl"), perl)]),
        *[
            ArchiveImage([f"app{n}:1"], [(add, base_a), (run.format("python3.11"), python), ("COPY . / # buildkit", own(n))])
            for n in range(3)
        ],
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep-debs", type=Path, help="download the packages here (and keep them)")
    options = parser.parse_args()
    engine = start_private_engine()
    try:
        with tempfile.TemporaryDirectory() as folder:
            debs = options.keep_debs or Path(folder, "debs")
            archive = Path(folder, "debian.tar")
            write_load_archive(images(debs), archive)
            engine.docker("load", "-q", "-i", str(archive))
        env = {**os.environ, **engine.env()}
        py = [sys.executable, "-m", "layershare"]
        run = lambda *args: json.loads(  # noqa: E731
            subprocess.run(
                [*py, *args, "--format", "json", "--no-cache"], env=env, capture_output=True, check=True
            ).stdout
        )
        report, dupes = run("report"), run("dupes")
        totals = report["totals"]
        copies, contents = (
            dupes["stored_files"],
            dupes["stored_files"] - sum(g["copies"] - 1 for g in dupes["groups"]),
        )
        distinct = dupes["stored_bytes"] - dupes["duplicate_bytes"]
        print(f"{len(dupes['images'])} images, {dupes['stored_layers']} stored layers")
        print(f"listed {totals['listed_bytes']:,} B, logical {totals['logical_bytes']:,} B, stored (each layer once) "
              f"{totals['physical_bytes']:,} B")  # fmt: skip
        print(
            f"stored copies {copies:,} ({dupes['stored_bytes']:,} B), distinct contents {contents:,} ({distinct:,} B)"
        )
        print(f"files unique after file-level deduplication: {contents / copies:.1%} of the stored copies")
        print(
            f"layer-level deduplication (logical / stored layers): {totals['logical_bytes'] / totals['physical_bytes']:.2f}x"
        )
        print(f"file-level deduplication on top (stored copies' bytes / distinct contents' bytes): "
              f"{dupes['stored_bytes'] / distinct:.2f}x; consolidatable {dupes['consolidatable_bytes']:,} B")  # fmt: skip
        for advice in dupes["advice"][:3]:
            print(f"- {advice['text']}")
    finally:
        engine.stop()


if __name__ == "__main__":
    main()

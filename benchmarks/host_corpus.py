"""A seeded, deterministic build host: N images sharing layers as real ones do, as ``docker load`` archives.

    python benchmarks/host_corpus.py OUT.tar --start 0 --stop 1000 [--seed 1]

Image ``i`` depends only on the seed and ``i``, so archives of ranges
(``0-100``, ``100-1000``, ``1000-10000``) load into one engine one after the
other and add up to the same host as one archive of ``0-10000``.

The host: 4 distributions in 3 versions each (12 base images), 6 runtimes in
2 versions each on one of those bases (12 runtime images), 60 teams each with
a dependency layer on one runtime, and apps: each app stands on its team's
layers and adds one unique layer, and three in ten a second one. Teams with an
even number build with BuildKit (``# buildkit`` history, ``empty_layer``
metadata), the others with the classic builder (``/bin/sh -c #(nop) ...``).
1,000 images hold about 1,400 distinct layers.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DISTROS = ("alpha", "beta", "gamma", "delta")
RUNTIMES = ("python", "node", "java", "ruby", "go", "dotnet")
TEAMS = 60
SHARED = len(DISTROS) * 3 + len(RUNTIMES) * 2  # base and runtime images come first


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _content(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass(frozen=True)
class Step:
    """One history entry: the instruction and its layer (None: metadata only)."""

    created_by: str
    layer: bytes | None


@dataclass(frozen=True)
class HostImage:
    """One image of the host: its tag, steps (base first) and builder."""

    tag: str
    steps: tuple[Step, ...]
    buildkit: bool


class Host:
    """The shared part of the host (bases, runtimes, teams), derived from the seed alone."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(f"{seed}:host")
        self.bases = [
            (
                f"{d}:{v}",
                _tar(
                    {
                        f"etc/{d}-release": f"{d} {v}\n".encode(),
                        f"lib/{d}.so": _content(f"{seed}{d}{v}", 30_000 + 5_000 * v),
                    }
                ),
            )
            for d in DISTROS
            for v in (1, 2, 3)
        ]
        self.runtimes = []
        for r in RUNTIMES:
            for v in (1, 2):
                base = rng.randrange(len(self.bases))
                layer = _tar({f"opt/{r}/bin/{r}": _content(f"{seed}{r}{v}", 15_000 + 1_000 * v)})
                self.runtimes.append((f"{r}:{v}", base, layer))
        self.teams = []
        for t in range(TEAMS):
            runtime = rng.randrange(len(self.runtimes))
            layer = _tar({f"srv/deps/team{t}.lock": _content(f"{seed}team{t}", 2_000 + 50 * t)})
            self.teams.append((runtime, layer))

    def _base_steps(self, base: int) -> list[Step]:
        _, layer = self.bases[base]
        if base % 2 == 0:  # each base image was built one way, whoever builds on it
            return [Step("ADD rootfs.tar / # buildkit", layer), Step('CMD ["sh"]', None)]
        digest = hashlib.sha256(layer).hexdigest()
        return [
            Step(f"/bin/sh -c #(nop) ADD file:{digest} in / ", layer),
            Step('/bin/sh -c #(nop)  CMD ["sh"]', None),
        ]

    def _runtime_steps(self, runtime: int) -> list[Step]:
        name, base, layer = self.runtimes[runtime]
        install = f"/bin/sh -c install-{name.replace(':', '-')}"
        env = f"ENV {name.split(':')[0].upper()}_VERSION={name.split(':')[1]}"
        if runtime % 2 == 0:
            return [*self._base_steps(base), Step(f"RUN {install} # buildkit", layer), Step(env, None)]
        return [*self._base_steps(base), Step(install, layer), Step(f"/bin/sh -c #(nop)  {env}", None)]

    def image(self, i: int) -> HostImage:
        """Image number ``i``."""
        if i < len(self.bases):
            return HostImage(self.bases[i][0], tuple(self._base_steps(i)), i % 2 == 0)
        if i < SHARED:
            r = i - len(self.bases)
            return HostImage(self.runtimes[r][0], tuple(self._runtime_steps(r)), r % 2 == 0)
        rng = random.Random(f"{self.seed}:app:{i}")
        team = rng.randrange(TEAMS)
        runtime, deps = self.teams[team]
        buildkit = team % 2 == 0
        steps = self._runtime_steps(runtime)
        app = _tar({f"app/app{i}.bin": _content(f"{self.seed}app{i}", rng.randrange(500, 3_000))})
        if buildkit:
            steps += [
                Step("RUN /bin/sh -c pip install -r requirements.txt # buildkit", deps),
                Step("COPY . /app # buildkit", app),
            ]
        else:
            steps += [
                Step("/bin/sh -c pip install -r requirements.txt", deps),
                Step(f"/bin/sh -c #(nop) COPY dir:{i} in /app ", app),
            ]
        if rng.random() < 0.3:
            config = _tar({f"app/config{i}.json": json.dumps({"app": i}).encode()})
            steps.append(
                Step(
                    "COPY config.json /app/ # buildkit"
                    if buildkit
                    else "/bin/sh -c #(nop) COPY file:c in /app/ ",
                    config,
                )
            )
        label = "LABEL team=t" if buildkit else "/bin/sh -c #(nop)  LABEL team=t"
        steps.append(Step(label, None))
        return HostImage(f"team{team}/app{i}:1", tuple(steps), buildkit)


def images(seed: int, start: int, stop: int) -> Iterator[HostImage]:
    """Images ``start`` to ``stop - 1`` of the host."""
    host = Host(seed)
    for i in range(start, stop):
        yield host.image(i)


def write_archive(path: Path, seed: int, start: int, stop: int) -> int:
    """Write images ``start..stop-1`` as one ``docker load`` archive; returns how many layers it holds."""
    manifest = []
    written: set[str] = set()
    with tarfile.open(path, "w") as tar:

        def add(name: str, content: bytes) -> None:
            if name in written:
                return
            written.add(name)
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))

        for n, image in enumerate(images(seed, start, stop)):
            diff_ids, paths, history = [], [], []
            for k, step in enumerate(image.steps):
                entry: dict[str, object] = {
                    "created": f"2026-01-01T00:{(start + n) // 60 % 60:02d}:{k:02d}Z",
                    "created_by": step.created_by,
                }
                if not step.created_by.startswith("/bin/sh -c"):  # the classic builder's entries all do
                    entry["comment"] = "buildkit.dockerfile.v0"
                if step.layer is None:
                    entry["empty_layer"] = True
                else:
                    digest = hashlib.sha256(step.layer).hexdigest()
                    diff_ids.append(f"sha256:{digest}")
                    paths.append(f"{digest}/layer.tar")
                    add(f"{digest}/layer.tar", step.layer)
                history.append(entry)
            config = json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "created": "2026-01-01T01:00:00Z",
                    "config": {"Cmd": ["sh"]},
                    "rootfs": {"type": "layers", "diff_ids": diff_ids},
                    "history": history,
                },
                sort_keys=True,
            ).encode()
            name = hashlib.sha256(config).hexdigest() + ".json"
            add(name, config)
            manifest.append({"Config": name, "RepoTags": [image.tag], "Layers": paths})
        add("manifest.json", json.dumps(manifest).encode())
    return sum(1 for w in written if w.endswith("/layer.tar"))


def load_host(engine: Any, start: int, stop: int, seed: int = 1) -> int:
    """``docker load`` images ``start..stop-1`` into a (private) engine; returns how many layer tars."""
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "host.tar"
        layers = write_archive(archive, seed, start, stop)
        engine.docker("load", "-q", "-i", str(archive))
    return layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    layers = write_archive(options.output, options.seed, options.start, options.stop)
    print(f"{options.output}: images {options.start}-{options.stop - 1}, {layers} layer tars")


if __name__ == "__main__":
    main()

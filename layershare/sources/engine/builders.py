"""The buildx builders on an engine (its ``docker-container`` driver's): found from the engine's own
answers, their records read from their state as root, else asked of the builder itself.

buildx names the container ``buildx_buildkit_<builder><n>`` (``n`` the node's index, 0 for a builder of
one node) and mounts the volume ``<container>_state`` at ``/var/lib/buildkit``; it sets no label on
either, so the names and the mount are what says "builder" (buildx v0.29's ``driver/docker-container``).

- as root, the state volume's files (:mod:`~layershare.sources.stores.buildkit_state`) and the GC policy
  buildkitd worked out from its flags, its config (from the container's layers on disk:
  :mod:`~layershare.sources.stores.container_fs`) and the disk (nothing runs in the builder);
- otherwise (the ``docker`` group), one ``docker exec <container> buildctl du --format json`` and one
  ``buildctl debug workers``, as ``buildx du`` and ``buildx inspect`` ask the builder;
- a stopped builder read as the group: its volume's size only, and why.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from layershare.model import BuildRecord
from layershare.model.builders import Builder
from layershare.redact import redact_created_by
from layershare.sources.engine.builder_policy import rules_from_setup, rules_from_workers
from layershare.sources.holdings.items import container_name
from layershare.sources.holdings.store import EngineStore
from layershare.sources.stores.buildkit_state import StateRecord, read_state

PREFIX = "buildx_buildkit_"
STATE_SUFFIX = "_state"
STATE_PATH = "/var/lib/buildkit"
CONFIG_PATH = "/etc/buildkit/buildkitd.toml"
SEPARATOR = "--layershare--"


def builder_name(container: str) -> str:
    """The builder's name from its container's (``buildx_buildkit_ci0`` is builder ``ci``'s node 0)."""
    node = container.removeprefix(PREFIX)
    return node[:-1] if node[-1:].isdigit() and len(node) > 1 else node


def is_state_volume(name: str) -> bool:
    """Whether a volume's name is a buildx builder's state volume."""
    return name.startswith(PREFIX) and name.endswith(STATE_SUFFIX) and len(name) > len(PREFIX + STATE_SUFFIX)


def builder_volumes(
    containers: Sequence[Mapping[str, Any]], volumes: Sequence[Mapping[str, Any]]
) -> set[str]:
    """The state volumes of every builder, running, stopped or left without its container."""
    found = {str(v.get("Name")) for v in volumes if is_state_volume(str(v.get("Name") or ""))}
    for c in containers:
        state = _state_mount(c)
        if state:
            found.add(state)
    return found


def _state_mount(container: Mapping[str, Any]) -> str:
    """The state volume a builder's container mounts at BuildKit's state path ("" if not a builder)."""
    name = container_name(container)
    if not name.startswith(PREFIX):
        return ""
    for m in container.get("Mounts") or ():
        if m.get("Type") == "volume" and m.get("Destination") == STATE_PATH:
            return str(m.get("Name") or "")
    return ""


class BuilderReader:
    """Reads the builders of one engine. ``engine`` is the :class:`EngineSource`; ``files`` says whether
    this process reads the engine's files (root on the engine's host)."""

    def __init__(
        self, engine: Any, *, files: bool, show_values: bool = False, store: EngineStore | None = None
    ) -> None:
        self.engine = engine
        self.files = files
        self.show_values = show_values
        self.store = store  # as root, a builder's config is read from its container's layers on disk

    def builders(
        self,
        containers: Sequence[Mapping[str, Any]],
        volumes: Sequence[Mapping[str, Any]],
        sizes: Mapping[str, int | None],
        only: str | None = None,
    ) -> tuple[Builder, ...]:
        """Every builder found (``only``: the one of that name), read at once (their execs in parallel)."""
        listed = {str(v.get("Name")): v for v in volumes}
        found: dict[str, tuple[Mapping[str, Any] | None, str]] = {}
        for c in containers:
            state = _state_mount(c)
            if state:
                found[state] = (c, container_name(c))
        for name in listed:
            if is_state_volume(name) and name not in found:
                found[name] = (None, name.removesuffix(STATE_SUFFIX))
        chosen = [
            (volume, c, cname)
            for volume, (c, cname) in sorted(found.items(), key=lambda kv: kv[1][1])
            if only is None or builder_name(cname) == only
        ]
        if not chosen:
            return ()
        with ThreadPoolExecutor(max_workers=min(4, len(chosen))) as pool:
            return tuple(
                pool.map(
                    lambda item: self._read(item[1], item[2], item[0], listed.get(item[0]), sizes), chosen
                )
            )

    def _read(
        self,
        container: Mapping[str, Any] | None,
        cname: str,
        volume: str,
        listed: Mapping[str, Any] | None,
        sizes: Mapping[str, int | None],
    ) -> Builder:
        running = bool(container) and str((container or {}).get("State")) == "running"
        builder = Builder(
            name=builder_name(cname),
            container=cname if container else "",
            container_id=str((container or {}).get("Id") or ""),
            image=str((container or {}).get("Image") or ""),
            state_volume=volume,
            running=running,
            volume_bytes=sizes.get(volume),
        )
        mountpoint = str((listed or {}).get("Mountpoint") or "")
        if self.files and mountpoint and os.access(mountpoint, os.R_OK | os.X_OK):
            return self._from_files(builder, Path(mountpoint))
        if running:
            return self._from_builder(builder)
        why = (
            "stopped: its records are read from its state volume's files as root; from here only the "
            "volume's size is known"
            if container
            else "its container is gone (buildx rm --keep-state, or docker rm): only the volume's size "
            "is known from here; root reads its records"
        )
        return _with(builder, unread_why=why)

    def _from_files(self, builder: Builder, mountpoint: Path) -> Builder:
        state = read_state(mountpoint)
        if state is None:
            return _with(builder, unread_why=f"no BuildKit worker state under {mountpoint}")
        notes = []
        if builder.running:
            notes.append(
                "read from its files: a build running now holds records that the files cannot tell "
                "apart, so none is counted in use"
            )
        flags, config = self._setup(builder) if builder.container_id else ([], None)
        disk_total, free = _statfs(mountpoint)
        try:
            enabled, rules, source = rules_from_setup(flags, config, disk_total)
        except ValueError as e:
            enabled, rules, source = True, (), ""
            notes.append(f"its GC policy is not known: {e}")
        return _with(
            builder,
            records=tuple(self._shown(r.record) for r in state),
            read_from="files",
            gc_enabled=enabled,
            gc_policy=rules,
            gc_policy_from=source,
            free_bytes=free,
            disk_size_bytes=disk_total,
            notes=tuple(notes),
            record_paths={r.record.id: r.folders + r.blobs for r in state},
            use_pending=tuple(r.record.id for r in state if r.use_pending),
        )

    def _from_builder(self, builder: Builder) -> Builder:
        """One exec: ``buildctl du`` twice, then ``buildctl debug workers``. BuildKit's first reading of
        sizes after a build records one more use of the cache mounts and local sources it used (and
        prints the counts from before); the second lists the records as its GC will rank them. Where the
        builder's image has no shell, the three commands run one exec each."""
        du = "buildctl du --format json"
        script = (
            f"{du} >/dev/null && {du} && echo {SEPARATOR} && buildctl debug workers --format '{{{{json .}}}}'"
        )
        found, why = self._exec(builder.container, ["sh", "-c", script], split=True)
        if found is None and ("executable file not found" in why or "exit 127" in why or "exit 126" in why):
            listed, why = self._exec(builder.container, du.split())
            if listed is not None:
                listed, why = self._exec(builder.container, du.split())
            described, _ = self._exec(
                builder.container, [*du.split()[:1], "debug", "workers", "--format", "{{json .}}"]
            )
            found = None if listed is None else (listed, described)
        if found is None:
            return _with(builder, unread_why=why)
        listed, described = found
        records = tuple(self._shown(r) for r in records_from_du(listed or []))
        enabled, rules = rules_from_workers(described or [])
        return _with(
            builder,
            records=records,
            read_from="buildctl",
            gc_enabled=enabled,
            gc_policy=rules,
            gc_policy_from="buildkitd" if described is not None else "",
        )

    def _exec(self, container: str, argv: list[str], *, split: bool = False) -> tuple[Any, str]:
        """(the JSON a command printed in the container, "") or (None, why not): ``docker exec`` through
        the engine's API (create, start attached, read the exit code). ``split``: two JSON documents
        the command printed with :data:`SEPARATOR` between them."""
        from layershare.errors import SourceError

        try:
            out, err, code = self._run(container, argv)
        except (SourceError, LookupError) as e:
            return None, f"{' '.join(argv[:2])} in {container} failed: {e}"
        if code != 0:
            said = (err or out or b"").decode(errors="replace").strip().splitlines()
            return None, f"{' '.join(argv[:2])} in {container} failed: {said[-1] if said else f'exit {code}'}"
        try:
            if split:
                first, _, second = (out or b"").partition(SEPARATOR.encode())
                return (json.loads(first or b"null"), json.loads(second or b"null")), ""
            return json.loads(out or b"null") or [], ""
        except ValueError:
            return None, f"{' '.join(argv[:2])} in {container} printed no JSON"

    def _run(self, container: str, argv: list[str]) -> tuple[bytes, bytes, object]:
        plain = self.engine._plain_api()
        if plain is not None:  # a socket, plain TCP or ssh: no SDK to load
            exec_id = plain.post(
                f"/containers/{container}/exec", {"AttachStdout": True, "AttachStderr": True, "Cmd": argv}
            )["Id"]
            raw = plain.post(f"/exec/{exec_id}/start", {"Detach": False, "Tty": False}, raw=True)
            out, err = demux(raw)
            return out, err, (plain.get(f"/exec/{exec_id}/json") or {}).get("ExitCode")
        from layershare.sources.engine.connection import engine_errors

        api = self.engine._client()
        with engine_errors(self.engine.where):
            exec_id = api.exec_create(container, argv, stdout=True, stderr=True)["Id"]
            out, err = api.exec_start(exec_id, demux=True)
            return out or b"", err or b"", api.exec_inspect(exec_id).get("ExitCode")

    def _setup(self, builder: Builder) -> tuple[list[str], str | None]:
        """The builder's buildkitd flags and its config's text (from the container, never run)."""
        inspected = self.engine.get_json(f"/containers/{builder.container_id}/json") or {}
        flags = [str(a) for a in inspected.get("Args") or ()]
        where = CONFIG_PATH
        for n, word in enumerate(flags):
            if word == "--config" and n + 1 < len(flags):
                where = flags[n + 1]
            elif word.startswith("--config="):
                where = word.partition("=")[2]
        # The engine's archive writes in the container's layers while it reads (a stopped container is
        # mounted for it, a running one gets a pivot_root folder): as root the layers on disk are read.
        if self.store is not None and self.files:
            return flags, self.store.container_file(builder.container_id, where)
        return flags, self._file_of(builder.container_id, where) if builder.running else None

    def _file_of(self, container_id: str, path: str) -> str | None:
        """A small file of a running container (``GET /containers/{id}/archive``: the engine adds a
        ``.pivot_root`` folder to its writable layer meanwhile, so only where the files are not read); None if
        absent."""
        from urllib.parse import quote

        from layershare.errors import SourceError

        try:
            plain = self.engine._plain_api()
            if plain is not None:
                body = b"".join(plain.stream(f"/containers/{container_id}/archive?path={quote(path)}"))
            else:
                from layershare.sources.engine.connection import engine_errors

                with engine_errors(self.engine.where):
                    chunks, _ = self.engine._client().get_archive(container_id, path)
                    body = b"".join(chunks)
        except (SourceError, LookupError):
            return None
        if not body:
            return None
        try:
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                return handle.read().decode(errors="replace") if handle is not None else None
        except (tarfile.TarError, OSError):
            return None

    def _shown(self, record: BuildRecord) -> BuildRecord:
        if self.show_values:
            return record
        return BuildRecord(**{**record.__dict__, "description": redact_created_by(record.description)})


def demux(raw: bytes) -> tuple[bytes, bytes]:
    """(stdout, stderr) of an exec's attached output without a terminal: frames of an 8-byte head (the
    stream, 1 or 2, and the length, big-endian, in its last four bytes) and their bytes."""
    streams: dict[int, list[bytes]] = {1: [], 2: []}
    at = 0
    while at + 8 <= len(raw):
        kind, size = raw[at], int.from_bytes(raw[at + 4 : at + 8], "big")
        streams.setdefault(kind, []).append(raw[at + 8 : at + 8 + size])
        at += 8 + size
    return b"".join(streams[1]), b"".join(streams[2])


def records_from_du(listed: Sequence[Mapping[str, Any]]) -> tuple[BuildRecord, ...]:
    """``buildctl du --format json``'s records."""
    return tuple(
        BuildRecord(
            id=str(r.get("id") or ""),
            type=str(r.get("recordType") or "regular"),
            bytes=int(r.get("size") or 0),
            shared=bool(r.get("shared")),
            in_use=bool(r.get("inUse")),
            last_used=str(r.get("lastUsedAt") or ""),
            description=str(r.get("description") or ""),
            created=str(r.get("createdAt") or ""),
            parents=tuple(str(p) for p in r.get("parents") or ()),
            usage_count=int(r.get("usageCount") or 0),
        )
        for r in listed
        if isinstance(r, Mapping)
    )


def _statfs(path: Path) -> tuple[int | None, int | None]:
    """(the disk's size as BuildKit reads it: block size x blocks; its free bytes: x free blocks)."""
    try:
        found = os.statvfs(path)
    except OSError:
        return None, None
    return found.f_bsize * found.f_blocks, found.f_bsize * found.f_bfree


def _with(builder: Builder, **changes: Any) -> Builder:
    return replace(builder, **changes)


def read_builders(engine: Any, names: Sequence[str] = ()) -> tuple[Any, tuple[Builder, ...]]:
    """(the engine's :class:`~layershare.model.EngineInfo`, its builders, ``names`` only if given), each
    read as :class:`BuilderReader` does; the state volumes' sizes as the engine gives them (it sizes them
    in its own process while this one reads the builders)."""
    from layershare.sources.recording import engine_info_from

    with ThreadPoolExecutor(max_workers=3) as pool:
        sizes = pool.submit(engine.get_json, "/system/df", type="volume")
        answers = pool.submit(engine.light_answers)
        volumes = pool.submit(engine.get_json, "/volumes")
        light = answers.result()
        listed = list((volumes.result() or {}).get("Volumes") or [])
        containers = list(light.get("containers") or [])
        states = builder_volumes(containers, listed)
        files = engine._reads_files()
        facts = light.get("info") or {}
        store = EngineStore(facts, str(facts.get("DockerRootDir") or "")) if files else None
        reader = BuilderReader(engine, files=files, show_values=engine.show_values, store=store)
        wanted = [None] if not names else list(dict.fromkeys(names))
        found = [b for name in wanted for b in reader.builders(containers, listed, {}, only=name)]
        measured = {
            str(v.get("Name")): (v.get("UsageData") or {}).get("Size")
            for v in (sizes.result() or {}).get("Volumes") or []
            if str(v.get("Name")) in states
        }
    info = engine_info_from(light.get("info") or {}, light.get("version") or {}, engine.where)
    return info, tuple(
        replace(
            b,
            volume_bytes=size
            if isinstance(size := measured.get(b.state_volume), int) and size >= 0
            else None,
        )
        for b in found
    )


__all__ = [
    "BuilderReader",
    "StateRecord",
    "builder_name",
    "builder_volumes",
    "is_state_volume",
    "read_builders",
]

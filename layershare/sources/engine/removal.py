"""The removal commands a plan prints (``docker rm``, ``docker image rm``, ``docker volume rm``, ``docker
builder prune -a -f --filter id=…``, ``docker buildx prune --builder NAME -a -f``), carried out through the Engine API as the docker CLI does them:
each name in turn, nothing forced (a running container, an image in use, a volume in use are refused
by the engine itself). Used only by ``browse --allow-removal`` once the user confirmed, and by
``plan --apply``.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from layershare.errors import UsageError
from layershare.sources.engine.connection import engine_errors, open_api
from layershare.sources.engine.source import EngineSource


def accounting(engine: Any) -> int:
    """What ``docker system df`` sums: LayersSize, writable layers, volumes, the unshared build cache."""
    from layershare.sources.engine.system_df import system_df

    df = system_df(engine)
    return (
        int(df.get("LayersSize") or 0)
        + sum(int(c.get("SizeRw") or 0) for c in df.get("Containers") or [])
        + sum(int((v.get("UsageData") or {}).get("Size") or 0) for v in df.get("Volumes") or [])
        + sum(int(r.get("Size") or 0) for r in df.get("BuildCache") or [] if not r.get("Shared"))
    )


def carry_out(source: EngineSource, commands: list[str]) -> None:
    """Run each command's API calls on the engine ``source`` reads, in order, through a client of its
    own (the source itself only reads); the first refusal stops the rest (as ``set -e``)."""
    if source.over_ssh:  # the SDK would want paramiko for ssh; removals go through it
        raise UsageError(
            f"removing over ssh is not supported: the engine at {source.where} is read over ssh only; "
            "run the printed commands there, or layershare on that host"
        )
    api, where = open_api(source.host, context=source.context, pool_size=1)
    try:
        with engine_errors(where):
            _calls(api, commands)
    finally:
        api.close()


def _calls(api: Any, commands: list[str]) -> None:
    for command in commands:
        words = shlex.split(command)
        match words:
            case ["docker", "rm", *names] if names and not names[0].startswith("-"):
                for name in names:
                    api.remove_container(name)  # the CLI's docker rm: no force, volumes kept
            case ["docker", "image", "rm", *names] if names:
                for name in names:
                    api.remove_image(name)  # the CLI's default: not forced, untagged parents pruned
            case ["docker", "volume", "rm", *names] if names:
                for name in names:
                    api.remove_volume(name)
            case ["docker", "builder", "prune", "-a", "-f", "--filter", filter_text] if (
                filter_text.startswith("id=")
            ):
                query = {"all": "1", "filters": json.dumps({"id": [filter_text[3:]]})}
                api._result(api._post(api._url("/build/prune"), params=query), json=True)
            case ["docker", "buildx", "prune", "--builder", name, "-a", "-f"]:
                _buildctl_prune(api, f"buildx_buildkit_{name}0")
            case ["docker", "buildx", "prune", "--builder", name, "-a", "-f", "--filter", filter_text] if (
                filter_text.startswith("id=")
            ):  # buildx hands an id filter to BuildKit as a regular expression
                _buildctl_prune(api, f"buildx_buildkit_{name}0", f"id~={filter_text[3:]}")
            case _:
                raise UsageError(f"not a removal layershare carries out: {command}")


def _buildctl_prune(api: Any, container: str, filter_text: str = "") -> None:
    """``docker buildx prune --builder NAME -a -f`` as buildx does it: BuildKit's prune of every record no
    build holds (``buildctl prune --all`` in the builder's container). A stopped builder is the engine's
    refusal (buildx would start it; layershare does not)."""
    argv = ["buildctl", "prune", "--all", *(["--filter", filter_text] if filter_text else [])]
    exec_id = api.exec_create(container, argv, stdout=True, stderr=True)["Id"]
    out, err = api.exec_start(exec_id, demux=True)
    code = api.exec_inspect(exec_id).get("ExitCode")
    if code != 0:
        said = (err or out or b"").decode(errors="replace").strip().splitlines()
        raise UsageError(f"buildctl prune in {container} failed: {said[-1] if said else f'exit {code}'}")

"""Record the example corpus from a real engine for the unit tests.

    python tests/record_corpus.py tests/data/corpus-engine-20.10.json
    python tests/record_corpus.py --engine 29.7-overlay2 tests/data/corpus-engine-29.7-overlay2.json

Starts a private engine (the system's dockerd, or a kind ``tests/support.py`` unpacks: 26.1, 28.5,
29.7 on overlay2), builds ``examples/corpus.py``, and writes the engine's
answers as a layershare recording (layer store left out, so the unit tests
exercise the API-only path) plus the engine's own accounting as ground truth:
``GET /system/df`` and every layer in the layer store on disk.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker
from corpus import build_corpus
from devengine import PrivateEngine
from support import start_engine

from layershare.sources.engine import EngineSource


def layer_store(engine: PrivateEngine) -> dict[str, dict[str, object]]:
    """Every layer in the engine's layer store: chain ID -> diff ID and size."""
    root = engine.data_root / "image" / "overlay2" / "layerdb" / "sha256"
    return {
        f"sha256:{d.name}": {
            "diff_id": (d / "diff").read_text().strip(),
            "size": int((d / "size").read_text()),
            "parent": (d / "parent").read_text().strip() if (d / "parent").exists() else None,
        }
        for d in sorted(root.iterdir())
    }


def ground_truth(engine: PrivateEngine) -> dict[str, object]:
    """``GET /system/df`` (images part) and the on-disk layer store."""
    df = docker.APIClient(base_url=engine.host, version="auto").df()
    return {
        "system_df": {
            "LayersSize": df["LayersSize"],
            "Images": [
                {k: i[k] for k in ("Id", "RepoTags", "Size", "SharedSize", "Containers")}
                for i in df["Images"]
            ],
        },
        "layer_store": layer_store(engine),
    }


def main(out: str, kind: str = "20.10-overlay2") -> None:
    if not kind.endswith("-overlay2"):
        raise SystemExit(f"record_corpus: {kind}: the recording's ground truth is the overlay2 layer store")
    engine = start_engine(kind)
    try:
        build_corpus(engine.docker)
        recording = EngineSource(engine.host, read_layer_store=False).record()
        recording["host"] = "unix:///recorded/docker.sock"
        recording["ground_truth"] = ground_truth(engine)
        Path(out).write_text(json.dumps(recording, indent=1, sort_keys=True) + "\n")
    finally:
        engine.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = "20.10-overlay2"
    if args[:1] == ["--engine"]:
        chosen, args = args[1], args[2:]
    main(args[0], chosen)

"""Record the example corpus from a real engine for the unit tests.

    python tests/record_corpus.py tests/data/corpus-engine-20.10.json

Starts a private engine, builds ``examples/corpus.py``, and writes the engine's
answers as a layershare recording (layer store left out, so the unit tests
exercise the API-only path) plus the engine's own accounting as ground truth:
``GET /system/df`` and every layer in the layer store on disk.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import docker
from corpus import build_corpus
from devengine import PrivateEngine, start_private_engine

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


def main(out: str) -> None:
    engine = start_private_engine()
    try:
        build_corpus(engine.docker)
        recording = EngineSource(engine.host, read_layer_store=False).record()
        recording["host"] = "unix:///recorded/docker.sock"
        recording["ground_truth"] = ground_truth(engine)
        Path(out).write_text(json.dumps(recording, indent=1, sort_keys=True) + "\n")
    finally:
        engine.stop()


if __name__ == "__main__":
    main(sys.argv[1])

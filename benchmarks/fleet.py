"""Wall time and peak memory of ``layershare fleet`` (DuckDB) over a seeded, generated fleet.

    python benchmarks/fleet.py [--hosts 1000] [--images 500] [--layers 15] [--pool 5000] [--runs 3]

Writes, into a temporary folder, the Parquet tables ``layershare export`` writes for ``--hosts``
hosts that each hold ``--images`` images of ``--layers`` layers, drawn (seeded, the popular ones
more often) from a pool of ``--pool`` images built on 40 bases of 5 layers. Then it times the whole
``layershare fleet --format json`` process (median of ``--runs``), and prints wall time, peak
memory, the rows read, and the ratio to the targets (1,000 hosts: 6 s; 10,000 hosts: 60 s; memory
within ``--memory-limit``). The fleet's totals are checked against the generator's own sums.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples"))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import measure  # noqa: E402

from layershare.fleet.export import EXPORT_SCHEMA, SCHEMA_KEY, _schema  # noqa: E402

BASES, BASE_LAYERS = 40, 5


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def generate(folder: Path, hosts: int, images: int, layers: int, pool: int, seed: int = 7) -> dict[str, int]:
    """Write the fleet; return its true totals (physical bytes summed over hosts, rows written)."""
    rng = random.Random(seed)
    meta = {SCHEMA_KEY: EXPORT_SCHEMA.encode()}
    # The pool: each image is a base's 5 layers plus its own; chain IDs are stand-ins (unique per prefix).
    base_chains = [[digest(f"base{b}/{k}") for k in range(BASE_LAYERS)] for b in range(BASES)]
    pool_images = []
    for n in range(pool):
        base = base_chains[n % BASES]
        own = [digest(f"image{n}/{k}") for k in range(layers - BASE_LAYERS)]
        pool_images.append((digest(f"image{n}"), base + own))
    size_of = {}
    for _, chain in pool_images:
        for chain_id in chain:
            size_of.setdefault(chain_id, 1_000 + int(chain_id[7:15], 16) % 50_000_000)
    for folder_name in ("hosts", "host_image", "host_layer", "image_layer"):
        (folder / folder_name).mkdir(parents=True, exist_ok=True)
    weights = [1 / (k + 1) for k in range(pool)]  # popular images are on more hosts
    written_images: set[str] = set()
    physical_total = 0
    for h in range(hosts):
        host = f"host-{h:05d}"
        picked = set()
        while len(picked) < images:
            picked.update(rng.choices(range(pool), weights=weights, k=images - len(picked)))
        stored: dict[str, int] = {}
        image_rows = []
        for n in sorted(picked):
            image_id, chain = pool_images[n]
            for chain_id in chain:
                stored[chain_id] = stored.get(chain_id, 0) + 1
            image_rows.append(image_id)
            if image_id not in written_images:
                written_images.add(image_id)
                rows = [{"image_id": image_id, "position": k, "chain_id": c, "diff_id": c, "size_bytes": size_of[c],
                         "created_by": f"RUN step {k}"} for k, c in enumerate(chain)]  # fmt: skip
                table = pa.Table.from_pylist(rows, schema=_schema(pa, "image_layer")).replace_schema_metadata(
                    meta
                )
                pq.write_table(table, folder / "image_layer" / f"{image_id[7:]}.parquet")
        # Every fifth host is a node whose Docker and kubelet namespaces both unpack the base layers.
        doubled = {c for c in stored if h % 5 == 0 and c in base_chains[0]}
        physical = sum(size_of[c] * (2 if c in doubled else 1) for c in stored)
        physical_total += physical
        sizes = {
            image_rows[i]: sum(size_of[c] for c in pool_images[n][1]) for i, n in enumerate(sorted(picked))
        }
        logical = sum(sizes.values())
        host_table = pa.Table.from_pylist(
            [{"host": host, "collected_at": "", "engine_host": "", "engine_version": "26.1", "image_store":
              "graphdriver", "images": images, "tags": images, "layers": len(stored), "listed_bytes": logical,
              "logical_bytes": logical, "physical_bytes": physical, "blob_bytes": 0, "other_bytes": 0,
              "duplicate_bytes": sum(size_of[c] for c in doubled), "duplicate_layers": len(doubled)}],
            schema=_schema(pa, "hosts"),
        )  # fmt: skip
        pq.write_table(host_table.replace_schema_metadata(meta), folder / "hosts" / f"{host}.parquet")
        image_table = pa.table(
            {
                "host": [host] * len(image_rows),
                "namespace": ["moby"] * len(image_rows),
                "image_id": image_rows,
                "tags": [[f"app{i[7:13]}:1"] for i in image_rows],
                "containers": [0] * len(image_rows),
                "size_bytes": [sizes[i] for i in image_rows],
                "shared_bytes": [0] * len(image_rows),
                "unique_bytes": [0] * len(image_rows),
                "base": [f"base{n % BASES}:1" for n in sorted(picked)],
                "base_repository": [f"base{n % BASES}" for n in sorted(picked)],
            },
            schema=_schema(pa, "host_image"),
        )
        pq.write_table(image_table.replace_schema_metadata(meta), folder / "host_image" / f"{host}.parquet")
        chains = list(stored)
        layer_table = pa.table(
            {
                "host": [host] * len(chains),
                "chain_id": chains,
                "bytes": [size_of[c] for c in chains],
                "disk_bytes": pa.nulls(len(chains), pa.int64()),
                "images": [stored[c] for c in chains],
                "copies": [2 if c in doubled else 1 for c in chains],
            },
            schema=_schema(pa, "host_layer"),
        )
        pq.write_table(layer_table.replace_schema_metadata(meta), folder / "host_layer" / f"{host}.parquet")
    return {"physical_bytes": physical_total, "images": len(written_images)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--images", type=int, default=500, help="images per host")
    parser.add_argument("--layers", type=int, default=15, help="layers per image")
    parser.add_argument("--pool", type=int, default=5000, help="distinct images in the fleet to draw from")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-limit", default="4GB")
    options = parser.parse_args()
    print(describe_machine(None))
    with tempfile.TemporaryDirectory(prefix="layershare-fleet-bench-") as tmp:
        folder = Path(tmp) / "fleet"
        start = time.perf_counter()
        truth = generate(folder, options.hosts, options.images, options.layers, options.pool)
        print(f"generated {options.hosts} hosts x {options.images} images x {options.layers} layers "
              f"({truth['images']} distinct images) in {time.perf_counter() - start:.0f}s")  # fmt: skip
        command = [sys.executable, "-m", "layershare", "fleet", str(folder), "--format", "json",
                   "--memory-limit", options.memory_limit]  # fmt: skip
        result, out = measure("layershare fleet --format json", command, None, options.runs)
        fleet = json.loads(out)
        assert fleet["totals"]["hosts"] == options.hosts, fleet["totals"]
        assert fleet["totals"]["physical_bytes"] == truth["physical_bytes"], (fleet["totals"], truth)
        assert fleet["totals"]["images"] == truth["images"]
        target = 6.0 if options.hosts <= 1000 else 60.0 * options.hosts / 10_000
        print(f"\n{options.hosts} hosts (median of {options.runs}): wall {result.median:.1f} s, "
              f"peak memory {result.rss / 1e6:.0f} MB (limit {options.memory_limit})")  # fmt: skip
        print(f"ratio to the target ({target:.0f} s): {result.median / target:.2f}; "
              f"layers {fleet['totals']['layers']}, images {fleet['totals']['images']}; totals checked")  # fmt: skip


if __name__ == "__main__":
    main()

"""Chain IDs against the directory names of a real engine's layer store."""

from __future__ import annotations

from typing import Any

from layershare.ids import chain_ids


def test_chain_ids_match_the_engine_layer_store(recording: dict[str, Any]) -> None:
    store = recording["ground_truth"]["layer_store"]
    checked = 0
    for inspect in recording["inspect"].values():
        diffs = inspect["RootFS"]["Layers"]
        chains = chain_ids(diffs)
        for k, (diff_id, chain_id) in enumerate(zip(diffs, chains, strict=True)):
            assert store[chain_id]["diff_id"] == diff_id
            assert store[chain_id]["parent"] == (chains[k - 1] if k else None)
            checked += 1
    assert checked > 50


def test_first_chain_id_is_the_diff_id_and_order_matters() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a]) == (a,)
    assert chain_ids([a, b])[1] != chain_ids([b, a])[1]
    assert chain_ids([]) == ()

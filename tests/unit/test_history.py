"""History-to-layer mapping: table-driven cases, then a recorded real corpus."""

from __future__ import annotations

from typing import Any

import pytest

from layershare.model import HistoryEntry
from layershare.sources.history import EntryKind, HistoryMismatch, classify, map_history
from layershare.sources.recording import snapshot_from_recording


def h(created_by: str, size: int = 0, history_id: str | None = None) -> HistoryEntry:
    return HistoryEntry(created=0, created_by=created_by, size_bytes=size, history_id=history_id)


@pytest.mark.parametrize(
    ("created_by", "size", "kind"),
    [
        ("/bin/sh -c #(nop)  ENV X=1", 0, EntryKind.EMPTY),
        ('/bin/sh -c #(nop)  CMD ["sh"]', 0, EntryKind.EMPTY),
        ("/bin/sh -c #(nop) WORKDIR /w", 0, EntryKind.MAYBE),
        ("/bin/sh -c #(nop) COPY file:abc in /", 0, EntryKind.MAYBE),
        ("/bin/sh -c #(nop) COPY file:abc in /", 9, EntryKind.LAYER),
        ("/bin/sh -c true", 0, EntryKind.MAYBE),
        ("|1 A=1 /bin/sh -c true", 0, EntryKind.MAYBE),
        ("ENV X=1", 0, EntryKind.EMPTY),
        ("LABEL a=b", 0, EntryKind.EMPTY),
        ("EXPOSE map[80/tcp:{}]", 0, EntryKind.EMPTY),
        ("RUN /bin/sh -c true # buildkit", 0, EntryKind.MAYBE),
        ("WORKDIR /srv", 0, EntryKind.MAYBE),
        ("", 0, EntryKind.MAYBE),
    ],
)
def test_classify(created_by: str, size: int, kind: EntryKind) -> None:
    assert classify(h(created_by, size)) is kind


def test_all_maybes_are_layers_when_the_count_says_so() -> None:
    entries = [
        h("", 100),
        h("/bin/sh -c mkdir /a"),
        h("/bin/sh -c #(nop)  ENV A=1"),
        h("/bin/sh -c rm /x"),
    ]
    got = map_history(entries, 3)
    assert [a.entry_index for a in got] == [0, 1, 3]
    assert all(a.size_exact and a.created_by_exact for a in got)


def test_zero_byte_entries_in_one_gap_leave_sizes_exact_but_instruction_open() -> None:
    entries = [
        h("", 100),
        h("/bin/sh -c true"),
        h("/bin/sh -c mkdir /a"),
        h("COPY x # buildkit", 5),
    ]
    got = map_history(entries, 3)
    assert [a.size_bytes for a in got] == [100, 0, 5]
    assert [a.size_exact for a in got] == [True, True, True]
    assert got[1].created_by_exact is False


def test_zero_byte_entries_in_different_gaps_make_sizes_estimates() -> None:
    entries = [
        h("", 100),
        h("/bin/sh -c mkdir /a"),
        h("COPY x # buildkit", 5),
        h("/bin/sh -c true"),
    ]
    got = map_history(entries, 3)
    assert [a.size_exact for a in got] == [True, False, False]


def test_intermediate_layer_counts_resolve_the_ambiguity() -> None:
    entries = [
        h("", 100),
        h("/bin/sh -c mkdir /a"),
        h("COPY x # buildkit", 5),
        h("/bin/sh -c true"),
    ]
    got = map_history(entries, 3, layers_through={1: 2})
    assert [a.entry_index for a in got] == [0, 1, 2]
    assert all(a.size_exact and a.created_by_exact for a in got)
    got = map_history(entries, 3, layers_through={1: 1})
    assert [a.entry_index for a in got] == [0, 2, 3]


def test_known_sizes_resolve_the_ambiguity() -> None:
    entries = [
        h("", 100),
        h("/bin/sh -c mkdir /a"),
        h("COPY x # buildkit", 5),
        h("/bin/sh -c true"),
    ]
    got = map_history(entries, 3, known_sizes={1: 5})
    assert [a.entry_index for a in got] == [0, 2, 3]
    assert all(a.size_exact for a in got)


def test_impossible_history_raises() -> None:
    with pytest.raises(HistoryMismatch):
        map_history([h("", 1), h("ENV A=1")], 2)


def test_recorded_corpus_sizes_match_the_layer_store(recording: dict[str, Any]) -> None:
    """API only (no layer store): every layer called exact has the engine's size on disk."""
    store = recording["ground_truth"]["layer_store"]
    snapshot = snapshot_from_recording(recording)
    exact = [la for la in snapshot.layers if la.size_exact]
    assert len(exact) >= len(snapshot.layers) - 4
    for layer in exact:
        assert layer.size_bytes == store[layer.chain_id]["size"], layer.created_by
    assert {la.chain_id for la in snapshot.layers} == set(store)


def test_recorded_corpus_estimates_are_only_where_the_api_is_silent(
    recording: dict[str, Any],
) -> None:
    snapshot = snapshot_from_recording(recording)
    inexact = {la.chain_id for la in snapshot.layers if not la.size_exact}
    owners = {t for i in snapshot.images for t in i.tags if inexact & set(i.chain_ids)}
    assert owners <= {"bk-app:1", "bk-ambiguous:1"}
    assert any("estimates" in n for n in snapshot.notes) == bool(inexact)


def test_layer_store_sizes_make_every_layer_exact(recording: dict[str, Any]) -> None:
    store = recording["ground_truth"]["layer_store"]
    with_store = dict(recording, layer_store={c: v["size"] for c, v in store.items()})
    snapshot = snapshot_from_recording(with_store)
    assert all(la.size_exact for la in snapshot.layers)
    ambiguous = next(i for i in snapshot.images if "bk-ambiguous:1" in i.tags)
    by_chain = {la.chain_id: la for la in snapshot.layers}
    assert [by_chain[c].created_by for c in ambiguous.chain_ids] == [
        "ADD rootfs.tar / # buildkit",
        "RUN /bin/sh -c mkdir -p /data # buildkit",
        "COPY small.txt / # buildkit",
    ]

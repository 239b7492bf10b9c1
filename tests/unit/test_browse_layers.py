"""browse's layer rows without an engine: what an instruction reads as, which units make one layer's row
(a graphdriver layer; a containerd snapshot and its blob), a blob two layers came from counted once,
the entries that made no layer placed among the layers, names cut between words. The engine tests
(``tests/engine/test_browse_engine.py``) hold the rows to ``docker history`` and ``docker save``."""

from __future__ import annotations

from rich.text import Text

from layershare.browse.layers import LayerIndex, entry_text, parts
from layershare.browse.rows import whole_words
from layershare.browse.tree import EngineTree
from layershare.ids import stored_chain as chain_of
from layershare.model import (
    EngineImage,
    EngineInfo,
    EngineState,
    HistoryEntry,
    Image,
    Layer,
    Snapshot,
    StoredUnit,
)

ENGINE = EngineInfo("unix:///x", "29.7.2", "1.52", "containerd", "overlayfs")
C1, C2, C3 = (f"sha256:{n * 64}" for n in "123")
B1, B2 = (f"sha256:{n * 64}" for n in "ab")


def test_an_instruction_reads_as_written_without_the_builders_wrapping() -> None:
    assert entry_text("/bin/sh -c #(nop)  ENV A=***") == "ENV A=***"
    assert entry_text("/bin/sh -c apt-get install -y  python3") == "RUN apt-get install -y python3"
    assert entry_text("RUN /bin/sh -c make && make install # buildkit") == "RUN make && make install"
    assert entry_text("COPY app.py /app/ # buildkit") == "COPY app.py /app/"
    assert entry_text("|2 A=*** B=*** /bin/sh -c make") == "RUN |2 A=*** B=*** make"
    digest = "50187b96ad74de241bba1cdf09911cf30d8012baf3242ce14cd98a0bccfe0b5c"
    assert entry_text(f"/bin/sh -c #(nop) COPY file:{digest} in /app/ ") == "COPY file:50187b96ad74 in /app/"
    assert entry_text("", "Imported from -") == "imported"
    assert entry_text("", "") == "(no history)"
    assert entry_text("RUN echo '\x1b]0;t\x07' # buildkit") == "RUN echo '\x1b]0;t\x07'"  # escaped when drawn


def test_a_layer_unit_names_its_chain() -> None:
    assert chain_of(f"layer:{C1}") == C1
    assert chain_of(f"snapshot:moby/17/{C1}") == C1  # the engine's own snapshotter keys
    assert chain_of(f"snapshot:{C1}") == C1  # the export's and a node's
    assert chain_of(f"blob:{B1}") is None and chain_of("container:x") is None


def _state() -> tuple[EngineState, Snapshot]:
    """Two images on one base layer; the second's own layer came from the same blob as the first's
    (the same diff ID on another parent: two snapshots, one blob)."""
    sizes = {f"snapshot:moby/1/{C1}": 100, f"snapshot:moby/2/{C2}": 20, f"snapshot:moby/3/{C3}": 20}
    sizes |= {f"blob:{B1}": 40, f"blob:{B2}": 9, "blob:sha256:cfg-a": 3, "blob:sha256:cfg-b": 4}
    units = {k: StoredUnit(k, k.split(":")[0], v, None) for k, v in sizes.items()}  # type: ignore[arg-type]
    a = EngineImage("sha256:a", ("a:1",), 0.0, holds=(f"snapshot:moby/2/{C2}", f"snapshot:moby/1/{C1}", f"blob:{B1}",
                    f"blob:{B2}", "blob:sha256:cfg-a"))  # fmt: skip
    b = EngineImage("sha256:b", ("b:1",), 0.0, holds=(f"snapshot:moby/3/{C3}", f"snapshot:moby/1/{C1}", f"blob:{B1}",
                    f"blob:{B2}", "blob:sha256:cfg-b"))  # fmt: skip
    history = (
        HistoryEntry(0, "", 100, "Imported from -"),
        HistoryEntry(1, "/bin/sh -c #(nop)  ENV X=***", 0),
        HistoryEntry(2, "/bin/sh -c make", 20),
    )
    layers = (
        Layer(C1, C1, None, 100, "", comment="Imported from -"),
        Layer(C2, B2, C1, 20, "/bin/sh -c make"),
        Layer(C3, B2, C1, 20, "/bin/sh -c make"),
    )
    images = (
        Image("sha256:a", ("a:1",), (), "", 0, (C1, B2), (C1, C2), history, layer_blobs=(B1, B2)),
        Image("sha256:b", ("b:1",), (), "", 0, (C1, B2), (C1, C3), history, layer_blobs=(B1, B2)),
    )
    state = EngineState(ENGINE, (a, b), (), (), (), units, {})
    return state, Snapshot(ENGINE, images, layers)


def test_an_images_rows_are_its_layers_bottom_to_top_then_the_rest() -> None:
    state, snapshot = _state()
    rows = LayerIndex(snapshot).rows("sha256:a", state.images[0].holds)
    assert [(r.chain_id, r.units, r.empty) for r in rows] == [
        (C1, (f"snapshot:moby/1/{C1}", f"blob:{B1}"), False),
        ("", (), True),  # the ENV: no layer, where it falls
        (C2, (f"snapshot:moby/2/{C2}", f"blob:{B2}"), False),
        ("other", ("blob:sha256:cfg-a",), False),
    ]
    assert [r.instruction for r in rows] == ["imported", "ENV X=***", "RUN make", "metadata: 1 blob"]
    assert [r.position for r in rows] == [0, 1, 2, 3]


def test_a_history_that_does_not_line_up_leaves_the_layers_alone() -> None:
    state, snapshot = _state()
    image = snapshot.images[0]
    odd = Image(
        image.id,
        image.tags,
        (),
        "",
        0,
        image.diff_ids,
        image.chain_ids,
        image.history[:1],
        layer_blobs=(B1, B2),
    )
    rows = LayerIndex(Snapshot(ENGINE, (odd,), snapshot.layers)).rows(image.id, state.images[0].holds)
    assert [r.chain_id for r in rows] == [C1, C2, "other"]


def test_the_layers_view_counts_a_shared_blob_once_and_adds_up_to_the_units() -> None:
    state, snapshot = _state()
    tree = EngineTree(state, snapshot=snapshot)
    nodes = tree.layer_nodes()
    assert [n.name for n in nodes] == ["imported", "RUN make", "RUN make", "metadata: 2 blobs"]
    assert sum(n.bytes or 0 for n in nodes) == sum(u.bytes for u in state.units.values())
    by_key = {n.key: n for n in nodes}
    assert by_key[f"layer:{C2}"].parts == (("unpacked", 20), ("blob", 9))
    assert by_key[f"layer:{C3}"].parts == (("unpacked", 20), ("blob above", 9))  # stored once, shown once
    assert by_key[f"layer:{C3}"].bytes == 20
    assert "2 images: a:1, b:1" in by_key[f"layer:{C1}"].detail
    own = tree.layers_of("sha256:b")
    assert [n.bytes for n in own if n.kind == "layer"] == [140, 29]  # within one image the blob is its row's
    assert "1 other: a:1" in own[0].detail and "only here" in own[2].detail


def test_a_graphdriver_layer_is_one_figure() -> None:
    assert parts([f"layer:{C1}"], {f"layer:{C1}": 7}) == (("layer", 7),)
    assert parts([f"snapshot:{C1}"], {f"snapshot:{C1}": 7}) == (("unpacked", 7),)


def test_a_long_name_is_cut_between_words() -> None:
    assert whole_words(Text("RUN apt-get install -y python3"), 20).plain == "RUN apt-get …"
    assert whole_words(Text("short"), 20).plain == "short"
    assert whole_words(Text("LABEL org.opencontainers.image.base.name=x"), 20).plain.startswith("LABEL org")

"""buildx builders without an engine: the GC policy buildkitd works out, ``--like "docker buildx prune
--builder …"`` and ``"docker buildx rm …"`` parsed and planned, the GC outlook and the outputs, on
hand-made records. What a real builder does is proven in tests/engine/test_builders_engine.py."""

from __future__ import annotations

import json

import pytest

from layershare.disk.builders import gc_outlook
from layershare.errors import UsageError
from layershare.free.plan import Plan
from layershare.free.prune import parse_prune
from layershare.free.selection import Selection, plan_removal
from layershare.model import BuildRecord, Container, EngineInfo, EngineState, Volume
from layershare.model.builders import Builder, GCRule
from layershare.render.builders import builder_document, gc_sentence, volume_note
from layershare.sources.engine.builder_policy import default_caps, rules_from_setup, rules_from_workers

GB = 1_000_000_000
NOW = 1_800_000_000.0


def test_default_caps_are_whole_gib_plus_one_in_gb_capped() -> None:
    # BuildKit's gcpolicy_unix.go: 10% (at most 10 GB), 80% (at most 100 GB), 20%; a percentage is
    # (total x pct / 100 / GiB + 1) GB. A 100 GB disk: 10 GB, 75 GB, 19 GB.
    assert default_caps(100 * GB) == (10 * GB, 75 * GB, 19 * GB)
    # The disk these tests' engines ran on (252 GiB): buildkitd reported 10 GB, 100 GB, 51 GB.
    assert default_caps(270_553_174_016) == (10 * GB, 100 * GB, 51 * GB)
    assert default_caps(None) == (2 * GB, 2 * GB, 2 * GB)  # statfs failed: 2 GB each


def test_the_policy_from_flags_config_and_defaults() -> None:
    on, rules, source = rules_from_setup(["--oci-worker-gc-keepstorage=3000,1500,9000"], None, 100 * GB)
    assert (on, source) == (True, "flags")
    assert [(r.reserved_space, r.min_free_space, r.max_used_space) for r in rules[1:]] == [
        (3 * GB, 1_500_000_000, 9 * GB)
    ] * 3
    assert rules[0] == GCRule(False, ("type==source.local", "type==exec.cachemount", "type==source.git.checkout"),
                              48 * 3600 * GB, 0, 512_000_000, 0)  # fmt: skip
    assert rules[3].all and not rules[2].all and rules[1].keep_duration_ns == 60 * 24 * 3600 * GB
    assert rules_from_setup(["--oci-worker-gc=false"], None, None)[:2] == (False, ())
    assert rules_from_setup([], "[worker.oci]\ngc = false\n", None)[:2] == (False, ())
    config = '[worker.oci]\n[[worker.oci.gcpolicy]]\nkeepDuration = "36h"\nfilters = ["type==source.local"]\nmaxUsedSpace = "300MB"\nreservedSpace = "5%"\n'
    on, rules, source = rules_from_setup([], config, 100 * GB)
    assert source == "config" and rules == (
        GCRule(False, ("type==source.local",), 36 * 3600 * GB, 5 * GB, 300 << 20, 0),
    )
    assert (
        rules_from_setup([], "[worker.oci]\ngckeepstorage = 4000000\n", None)[1][1].reserved_space
        == 4_000_000
    )
    with pytest.raises(ValueError):
        rules_from_setup([], "[worker.oci\n", None)


def test_the_policy_a_running_worker_reports() -> None:
    workers = [
        {"gcPolicy": [{"all": True, "filter": ["type==regular"], "keepDuration": 5, "maxUsedSpace": 7}]}
    ]
    assert rules_from_workers(workers) == (True, (GCRule(True, ("type==regular",), 5, 0, 7, 0),))
    assert rules_from_workers([{"gcPolicy": None}]) == (False, ())


def test_buildx_commands_parse_as_buildx_hands_them_to_buildkit() -> None:
    prune = parse_prune("docker buildx prune --builder ci -a --filter type=regular --filter id=ab "
                        "--filter description~=COPY --filter until=24h --max-used-space 1gb", now=NOW)  # fmt: skip
    assert (prune.builder, prune.all, prune.keep_duration, prune.space.max_used) == (
        "ci",
        True,
        86400.0,
        1 << 30,
    )
    assert prune.record_filters == ("type==regular,id~=ab,description~=COPY",) and not prune.build_cache
    assert parse_prune("docker buildx --builder ci prune -f").builder == "ci"
    assert parse_prune("docker buildx prune -f").build_cache  # the default builder: the engine's own
    rm = parse_prune("docker buildx rm ci --keep-state")
    assert (rm.builder, rm.remove_builder, rm.keep_state) == ("ci", True, True)
    for bad in ("docker buildx rm", "docker buildx rm a b", "docker buildx prune --builder ci --nope",
                "docker buildx prune --builder ci --filter type", "docker buildx rm ci --all-inactive"):  # fmt: skip
        with pytest.raises(UsageError):
            parse_prune(bad)


def record(rid: str, size: int, used: int, *, count: int = 1, kind: str = "regular", parents: tuple[str, ...] = (),
           in_use: bool = False) -> BuildRecord:  # fmt: skip
    stamp = f"2027-01-15T08:{used // 60:02d}:{used % 60:02d}.000000001Z"
    return BuildRecord(rid, kind, size, False, in_use, stamp, "", stamp, parents, usage_count=count)


RECORDS = (
    record("base", 400, 10, count=3),
    record("step", 300, 20, parents=("base",)),
    record("mount", 200, 5, kind="exec.cachemount"),
    record("ctx", 100, 30, kind="source.local"),
    record("front", 50, 1, kind="frontend"),
    record("busy", 70, 2, in_use=True),
)


def state_with(builder: Builder) -> EngineState:
    engine = EngineInfo("unix:///x", "29.7.2", "1.55", "overlay2", "overlay2")
    container = Container("c1", "buildx_buildkit_ci0", "moby/buildkit", "sha256:b", "running",
                          volumes=("buildx_buildkit_ci0_state",))  # fmt: skip
    volume = Volume("buildx_buildkit_ci0_state", "local", 2000, ("buildx_buildkit_ci0",))
    return EngineState(engine, (), (container,), (volume,), (), {}, builders=(builder,))


def ci(**changes: object) -> Builder:
    base = {"name": "ci", "container": "buildx_buildkit_ci0", "container_id": "c1", "image": "moby/buildkit",
            "state_volume": "buildx_buildkit_ci0_state", "running": True, "records": RECORDS, "volume_bytes": 2000,
            "read_from": "files"}  # fmt: skip
    return Builder(**{**base, **changes})  # type: ignore[arg-type]


def planned(like: str, builder: Builder | None = None) -> Plan:
    return plan_removal(state_with(builder or ci()), Selection(prunes=(parse_prune(like, now=NOW),)), NOW)


def test_a_prune_takes_what_buildkit_allows_parents_last() -> None:
    assert sorted(planned("docker buildx prune --builder ci").builder_records) == [
        "ci/base",
        "ci/ctx",
        "ci/mount",
        "ci/step",
    ]  # not the frontend record (no -a), not the one in use
    assert "ci/front" in planned("docker buildx prune --builder ci -a").builder_records
    # base stays while step, which stands on it, stays
    assert (
        planned("docker buildx prune --builder ci --filter type=regular --filter id=^base$").builder_records
        == []
    )
    assert planned("docker buildx prune --builder ci --filter type!=regular").builder_records == [
        "ci/ctx",
        "ci/mount",
    ]
    with pytest.raises(UsageError):
        planned("docker buildx prune --builder nope")


def test_a_prune_to_a_size_goes_in_gc_order() -> None:
    # total 1120 (the in-use record counts); keep 800: least recently and least often used first, a
    # parent once its child went: mount (5 s), then step (20 s, its parent base is older but stands
    # under it), until under 800
    plan = planned("docker buildx prune --builder ci --max-used-space 800b")
    assert plan.builder_records == ["ci/mount", "ci/step"]


def test_buildx_rm_takes_the_container_and_the_state_with_every_record() -> None:
    plan = planned("docker buildx rm ci")
    assert plan.containers == ["c1"] and plan.volumes == ["buildx_buildkit_ci0_state"]
    assert len(plan.builder_records) == len(RECORDS) and plan.commands == ["docker buildx rm ci"]
    kept = planned("docker buildx rm ci --keep-state")
    assert kept.containers == ["c1"] and kept.volumes == [] and kept.builder_records == []


RULES = (
    GCRule(False, ("type==source.local", "type==exec.cachemount"), 48 * 3600 * GB, 0, 512_000_000, 0),
    GCRule(False, (), 0, 100, 800, 0),
)


def test_the_gc_outlook_over_and_under_its_limits() -> None:
    now = int((NOW + 0) * 1e9)
    over = gc_outlook(ci(gc_policy=RULES), now)
    assert over is not None and over.total_bytes == 1120
    # rule 1 takes no local source or cache mount used within 48 hours (all were, seconds ago)
    assert [r.id for r in over.deletes_now] == ["mount", "step"]
    under = gc_outlook(ci(gc_policy=(GCRule(False, (), 0, 0, 5000, 0),)), now)
    assert under is not None and under.deletes_now == () and under.starts_at is not None
    assert under.starts_at.keep_bytes == 5000 and [r.id for r in under.starts_at.first][:2] == [
        "mount",
        "step",
    ]
    assert gc_outlook(ci(gc_enabled=False, gc_policy=RULES), now) is None
    assert "GC is off" in gc_sentence(ci(gc_enabled=False))
    assert gc_sentence(ci(gc_policy=(GCRule(False, (), 0, 0, 5000, 0),)), now).startswith("GC starts at 5kB")


def test_the_json_and_the_volume_note() -> None:
    doc = builder_document(ci(gc_policy=RULES), int(NOW * 1e9))
    json.dumps(doc)
    assert (doc["records"], doc["bytes"], doc["reclaimable_bytes"], doc["volume_bytes"]) == (
        6,
        1120,
        1050,
        2000,
    )
    assert doc["by_type"]["regular"] == {"records": 3, "bytes": 770}
    assert doc["gc"]["deletes_now"] == ["mount", "step"] and doc["gc"]["deletes_now_bytes"] == 500
    assert "databases" in volume_note(ci()) and volume_note(ci(volume_bytes=1120)) == ""
    unread = builder_document(ci(records=None, running=False, unread_why="stopped: …"))
    assert (unread["records"], unread["bytes"], unread["gc"]) == (None, None, None)

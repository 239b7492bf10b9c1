"""``layershare plan``'s choice on small and generated states: the target met with the least recently
used images, no chosen image the target does not need, the rules that keep images, bad targets (the
engine tests run the commands on real engines and hold the drop to the plan)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from generated import generated_state

from layershare.cli.options import ExitCode
from layershare.errors import UsageError
from layershare.formats import FreeFormat
from layershare.free.candidates import eligible, last_used_of
from layershare.free.choose import PlanResult, choose
from layershare.free.prune import LabelFilter
from layershare.free.selection import Selection
from layershare.free.target import LastUsed, Rules, Target, parse_target
from layershare.free.whatif import free, what_if
from layershare.model import Container, EngineImage, EngineInfo, EngineState, StoredUnit
from layershare.render.plan import render_plan

NOW = 1_800_000_000.0
DAY = 86400.0


def layer(key: str, size: int) -> StoredUnit:
    return StoredUnit(f"layer:{key}", "layer", size, None, counted_with_images=True)


def state() -> EngineState:
    """base <- old (used 30 days ago), mid (10 days), new (1 day); lone (20 days, shares nothing);
    web (a stopped container uses it), live (a running one); fresh (created a minute ago)."""
    units = {u.key: u for u in (layer("base", 1000), *(layer(n, s) for n, s in SIZES.items()))}
    units["container:c1"] = StoredUnit("container:c1", "container", 5, None)
    units["container:c2"] = StoredUnit("container:c2", "container", 7, None)
    base = ("layer:base",)

    def image(name: str, age_days: float, labels: dict[str, str] | None = None) -> EngineImage:
        return EngineImage(
            f"sha256:{name}", (f"{name}:1",), NOW - age_days * DAY, "sha256:base",
            (*base, f"layer:{name}"), labels or {},
        )  # fmt: skip

    images = (
        EngineImage("sha256:base", ("base:1",), NOW - 40 * DAY, holds=base),
        image("old", 30),
        image("mid", 10),
        image("new", 1),
        replace(image("lone", 20), parent_id="", holds=("layer:lone",)),
        image("web", 25),
        image("live", 25),
        image("team", 50, {"team": "ops"}),
        image("fresh", 1 / 1440),
    )
    containers = (
        Container("c1", "web-box", "web:1", "sha256:web", "exited", NOW - 25 * DAY, holds=("container:c1",)),
        Container(
            "c2", "live-box", "live:1", "sha256:live", "running", NOW - 25 * DAY, holds=("container:c2",)
        ),
    )
    engine = EngineInfo(
        host="unix:///x",
        version="20.10",
        api_version="1.41",
        image_store="graphdriver",
        storage_driver="overlay2",
    )  # type: ignore[arg-type]
    return EngineState(engine, images, containers, (), (), units, api_version="1.41", disk_readable=True)


SIZES = {"old": 100, "mid": 200, "new": 400, "lone": 800, "web": 50, "live": 60, "team": 30, "fresh": 10}


def planned(
    target_bytes: int, rules: Rules | None = None, st: EngineState | None = None
) -> tuple[list[str], bool]:
    st = st or state()
    used = last_used_of(st, {}, {})
    choice = choose(
        st, Target("free", target_bytes, str(target_bytes)), target_bytes, rules or Rules(), used, NOW
    )
    return [c.tags[0] for c in choice.chosen], choice.reached


def test_the_least_recently_used_go_first_and_no_more_than_needed() -> None:
    # By last use: team (50 d, 30 B), old (30 d, 100 B), lone (20 d, 800 B), mid (10 d), new (1 d).
    assert planned(120) == (["team:1", "old:1"], True)
    # 900 needs lone: then team and old are not needed (lone and old make 900; the reverse pass, newest
    # first, drops team only if what is left still makes 900).
    chosen, reached = planned(900)
    assert reached and chosen == ["old:1", "lone:1"]
    assert planned(0) == ([], True)


def test_what_the_plan_frees_is_free_s_figure_for_the_same_images() -> None:
    st = state()
    used = last_used_of(st, {}, {})
    choice = choose(st, Target("free", 1500, "1500"), 1500, Rules(), used, NOW)
    result = what_if(st, choice.plan)
    assert choice.measured == result.freed_bytes >= 1500
    assert choice.chosen[-1].total_bytes == result.freed_bytes
    assert sum(c.freed_bytes for c in choice.chosen) == result.freed_bytes


def test_rules_keep_images() -> None:
    st = state()
    used = last_used_of(st, {}, {})
    rules = Rules(keep=("old:*",), keep_labels=(LabelFilter("team", "ops"),))
    candidates, kept = eligible(st, rules, used, NOW)
    why = {k.tags[0]: k.reason for k in kept}
    assert "--keep old:*" in why["old:1"] and "--keep-label" in why["team:1"]
    assert "running" in why["live:1"] and "web-box" in why["web:1"] and "--min-age" in why["fresh:1"]
    assert {i.tags[0] for i in candidates} == {"base:1", "mid:1", "new:1", "lone:1"}
    with_containers, kept = eligible(st, Rules(with_containers=True, min_age=0), used, NOW)
    assert "web:1" in {i.tags[0] for i in with_containers} and "fresh:1" in {
        i.tags[0] for i in with_containers
    }
    assert [k.tags[0] for k in kept] == ["live:1"]  # a running container's image never goes
    # --keep-last 1: per repository the newest; every repository here holds one image.
    assert not eligible(st, Rules(keep_last=1, min_age=0), used, NOW)[0]


def test_a_keep_glob_that_matches_nothing_is_a_note_not_an_error() -> None:
    st = state()
    rules = Rules(keep=("old:*", "olld:*"), min_age=0)
    choice = choose(st, Target("free", 100, "100"), 100, rules, last_used_of(st, {}, {}), NOW)
    assert choice.reached
    assert [n for n in choice.notes if "--keep" in n] == [
        "--keep olld:* matches no image here (kept nothing)"
    ]


def test_with_containers_a_stopped_container_goes_before_its_image() -> None:
    st = state()
    used = last_used_of(st, {}, {"c1": NOW - 60 * DAY})  # it last ran before the image was made: created
    assert used["sha256:web"] == LastUsed(NOW - 25 * DAY, "created")
    rules = Rules(keep=("old:*", "team:*", "lone:*"), with_containers=True)
    choice = choose(st, Target("free", 50, "50"), 50, rules, used, NOW)
    assert [c.tags[0] for c in choice.chosen] == ["web:1"] and choice.measured == 50 + 5
    assert what_if(st, choice.plan).commands[:2] == ("docker rm web-box", "docker image rm web:1")


def test_last_used_is_the_newest_of_its_sources() -> None:
    st = state()
    used = last_used_of(st, {"sha256:old": NOW - DAY}, {"c1": NOW - 2 * DAY}, {"sha256:mid": NOW - 3 * DAY})
    assert used["sha256:old"] == LastUsed(NOW - DAY, "tagged")
    assert used["sha256:web"] == LastUsed(NOW - 2 * DAY, "container")
    assert used["sha256:mid"] == LastUsed(NOW - 3 * DAY, "event")
    assert used["sha256:new"] == LastUsed(NOW - DAY, "created")


def test_an_unreachable_target_takes_all_it_may_and_says_so() -> None:
    chosen, reached = planned(10**9)
    # base:1 stays: images that are kept stand on it, so removing it would only take its tag.
    assert not reached and set(chosen) == {"team:1", "old:1", "lone:1", "mid:1", "new:1"}
    st = state()
    used = last_used_of(st, {}, {})
    choice = choose(st, Target("free", 10**9, "1GB"), 10**9, Rules(), used, NOW)
    assert any("out of reach" in n for n in choice.notes)
    planned_result = PlanResult(choice, what_if(st, choice.plan))
    doc = json.loads(render_plan(planned_result, FreeFormat.JSON))
    assert doc["schema"] == "layershare.plan/v1" and doc["reached"] is False
    assert {"id", "tags", "last_used", "last_used_source", "freed_bytes"} <= set(doc["items"][0])
    assert {k["tags"][0] for k in doc["kept"]} >= {"live:1", "web:1", "fresh:1"}
    assert doc["freed_bytes"] == sum(i["freed_bytes"] for i in doc["items"])
    assert "NOT reached" in render_plan(planned_result, FreeFormat.TABLE)
    assert int(ExitCode.TARGET_NOT_REACHED) == 8


@pytest.mark.parametrize(
    ("args", "kind", "size"),
    [
        (("20GB", None, None), "free", 20 * 10**9),
        ((None, "1.5GiB", None), "images_under", int(1.5 * 2**30)),
        ((None, None, "512000"), "disk_free", 512000),
    ],
)
def test_targets_parse(args: tuple[str | None, str | None, str | None], kind: str, size: int) -> None:
    target = parse_target(*args)
    assert (target.kind, target.size) == (kind, size)
    assert parse_target(None, None, "15%").share == pytest.approx(0.15)


@pytest.mark.parametrize(
    "args",
    [
        (None, None, None),
        ("1GB", "2GB", None),
        ("-5GB", None, None),
        ("lots", None, None),
        (None, None, "120%"),
    ],
)
def test_bad_targets_are_usage_errors(args: tuple[str | None, str | None, str | None]) -> None:
    with pytest.raises(UsageError):
        parse_target(*args)


@pytest.mark.parametrize("seed", range(40))
def test_on_generated_states_the_choice_is_minimal_and_in_lru_order(seed: int) -> None:
    """Every chosen image is needed (leaving any out misses the target), the figure is free's for the
    same images, and the chosen images all come from the shortest run of the LRU order that meets it."""
    st = generated_state(seed, containerd=seed % 2 == 1)
    used = last_used_of(st, {}, {})
    rules = Rules(min_age=0)
    candidates, _ = eligible(st, rules, used, NOW)
    everything = free(st, Selection(images=tuple(i.id for i in candidates)), NOW).freed_bytes
    for share in (0.2, 0.6, 1.0):
        needed = max(1, int(everything * share))
        choice = choose(st, Target("free", needed, str(needed)), needed, rules, used, NOW)
        ids = [c.id for c in choice.chosen]
        got = free(st, Selection(images=tuple(ids)), NOW).freed_bytes
        assert got == choice.measured
        if everything < needed:
            assert not choice.reached
            continue
        assert choice.reached and got >= needed
        for image_id in ids:
            rest = tuple(i for i in ids if i != image_id)
            assert free(st, Selection(images=rest), NOW).freed_bytes < needed, (seed, share, image_id)
        order = sorted(candidates, key=lambda i: used[i.id].at)
        newest = max((used[i].at for i in ids), default=0.0)
        prefix = [i.id for i in order if used[i.id].at <= newest]
        assert set(ids) <= set(prefix)
        shorter = [i.id for i in order if used[i.id].at < newest]
        assert free(st, Selection(images=tuple(shorter)), NOW).freed_bytes < needed or not ids


def test_events_say_which_images_were_used_and_when() -> None:
    from layershare.sources.engine.events import uses

    events = [
        {"Type": "image", "Action": "pull", "Actor": {"ID": "old:1", "Attributes": {"name": "old:1"}}, "time": 5},
        {"Type": "image", "Action": "tag", "Actor": {"ID": "sha256:mid", "Attributes": {"name": "mid:1"}},
         "timeNano": 7_500_000_000},
        {"Type": "container", "Action": "start", "Actor": {"ID": "c9", "Attributes": {"image": "new:1"}}, "time": 9},
        {"Type": "container", "Action": "exec_start: sh", "Actor": {"Attributes": {"image": "new:1"}}, "time": 11},
        {"Type": "image", "Action": "delete", "Actor": {"ID": "sha256:gone"}, "time": 12},
        {"Type": "network", "Action": "connect", "Actor": {"ID": "n"}, "time": 13},
    ]  # fmt: skip
    assert uses(events) == {"old:1": 5.0, "sha256:mid": 7.5, "mid:1": 7.5, "new:1": 11.0}


def test_the_journal_names_images_by_id_short_id_or_reference() -> None:
    from layershare.free.candidates import resolve_uses

    st = state()
    found = resolve_uses(st, {"old": 1.0, "old:1": 2.0, "sha256:mid": 3.0, "new:1": 4.0, "no-such:1": 5.0})
    assert found == {"sha256:old": 2.0, "sha256:mid": 3.0, "sha256:new": 4.0}
    used = last_used_of(st, {}, {}, {"sha256:old": NOW - DAY})
    assert used["sha256:old"] == LastUsed(NOW - DAY, "event")


def test_the_journal_survives_a_restart_and_a_damaged_file(tmp_path: Path) -> None:
    from layershare.cache import UseJournal

    folder = tmp_path
    UseJournal(folder, "k").save_times({"": 10.0, "app:1": 5.0})
    assert UseJournal(folder, "k").times() == {"": 10.0, "app:1": 5.0}
    path = folder / "uses-k.json"
    path.write_bytes(path.read_bytes()[:-3])  # cut short, as a crash mid-write would (it cannot: renamed)
    assert UseJournal(folder, "k").times() == {}


def test_the_keeper_frees_to_a_margin_beyond_the_target() -> None:
    from layershare.free.keeper import with_margin

    assert with_margin(Target("images_under", 1000, "1000"), 0.05).size == 950
    assert with_margin(Target("disk_free", 1000, "1000"), 0.05).size == 1050
    assert with_margin(Target("disk_free", 0, "10%", share=0.10), 0.05).share == pytest.approx(0.105)

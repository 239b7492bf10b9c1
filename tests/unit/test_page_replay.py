"""The page's "what if I remove these" replay (``render/page/report.js``) against the planner.

The page carries a copy of the engine's rules for removing whole images, in JavaScript. These tests
generate hundreds of engine states by hand (both image stores: classic parent chains, untagged
parents, images containers use, layers the build cache or containerd's garbage keeps) and
selections of whole images, the only thing the page can tick, and require the page's answer, run
in Node, to equal the planner (:func:`~layershare.free.selection.plan_removal` and
:func:`~layershare.free.whatif.what_if`) on every one: the bytes freed, the images
removed and the images blocked. No engine; a mismatch names the seed that makes it.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

from generated import generated_state
from support import need

from layershare.free.page_model import image_removal_model
from layershare.free.selection import Selection, plan_removal
from layershare.free.whatif import what_if
from layershare.model import EngineState

REPORT_JS = Path(__file__).resolve().parents[2] / "layershare" / "render" / "page" / "report.js"
STATES = 60  # per image store
PICKS = 2  # selections per state

# Loads the page's own replay() from report.js (between its two markers) and answers every case.
HARNESS = r"""
const fs = require("fs");
const source = fs.readFileSync(process.argv[process.argv.length - 1], "utf8");
const start = source.indexOf("  function replay(R, picked) {");
const end = source.indexOf("  function whatIfPanel(");
if (start < 0 || end < start) throw new Error("replay() not found in report.js");
const shortId = (id) => String(id).replace(/^sha256:/, "").slice(0, 12);
const replay = new Function("shortId", source.slice(start, end) + "\nreturn replay;")(shortId);
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const answers = cases.map((c) => {
  const r = replay(c.model, c.picked);
  return { freed: r.freed, removed: r.removed.map((i) => c.model.image_ids[i]).sort(),
           blocked: [...r.blocked.keys()].map((i) => c.model.image_ids[i]).sort() };
});
process.stdout.write(JSON.stringify(answers));
"""


def cases() -> list[tuple[str, EngineState, list[str]]]:
    found = []
    for containerd in (False, True):
        for seed in range(STATES):
            state = generated_state(seed, containerd)
            rng = random.Random(f"pick {seed}")
            for n in range(PICKS):
                picked = rng.sample([i.id for i in state.images], k=rng.randint(1, min(4, len(state.images))))
                found.append(
                    (f"{'containerd' if containerd else 'graphdriver'} seed {seed} pick {n}", state, picked)
                )
    return found


def test_the_pages_replay_equals_the_planner_on_generated_states() -> None:
    need(shutil.which("node") is not None, "the page's replay runs in Node.js (apt-get install nodejs)")
    every = cases()
    documents = []
    for _, state, picked in every:
        model = asdict(image_removal_model(state))
        documents.append({"model": model, "picked": [model["image_ids"].index(i) for i in picked]})
    answered = subprocess.run(
        ["node", "-e", HARNESS, str(REPORT_JS)], input=json.dumps(documents), capture_output=True, text=True
    )
    assert answered.returncode == 0, answered.stderr
    replies = json.loads(answered.stdout)
    assert len(replies) == len(every) == 2 * STATES * PICKS
    mismatches = []
    for (name, state, picked), page in zip(every, replies, strict=True):
        plan = plan_removal(state, Selection(references=tuple(picked)), now=0.0)
        expected = {
            "freed": what_if(state, plan).freed_bytes,
            "removed": sorted(plan.removed_images),
            "blocked": sorted(plan.blocked_by),
        }
        if page != expected:
            mismatches.append(f"{name}: page {page} != planner {expected}")
    assert not mismatches, f"{len(mismatches)} of {len(every)} differ, e.g. " + "\n".join(mismatches[:3])
    # The generated states cover what the rules turn on: something freed, blocked, and cascading parents.
    assert sum(r["freed"] > 0 for r in replies) > len(replies) // 3
    assert sum(bool(r["blocked"]) for r in replies) > 12
    assert sum(len(r["removed"]) > 1 for r in replies) > 12

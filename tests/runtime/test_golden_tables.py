"""The recorder's tables do not change when the engine does: the golden runs (every bundled
scenario and the Taskmaster set, hook-free and hooked, and 24 random hook mixes) give the
digests ``golden/golden.json`` holds, table by table (wall times aside)."""

import json
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from runs import digests, runs  # noqa: E402


@pytest.fixture(scope="module")
def recorded():
    return runs()


@pytest.mark.parametrize("name", ["scenarios", "taskmaster4-coffee", "generated"])
def test_tables_are_the_golden_ones(recorded, name):
    want = json.loads((GOLDEN / "golden.json").read_text())[name]
    got = digests(recorded[name])
    changed = {t: (want[t], got[t]) for t in want if want[t] != got[t]}
    assert not changed, (f"{name}: these tables changed (rows:digest, golden -> now): "
                         f"{changed}; if intended, rerun tests/runtime/golden/make_golden.py")

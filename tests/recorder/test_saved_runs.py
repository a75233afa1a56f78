"""Saved runs: atomic under concurrent and killed saves; damage is a ConfigError naming
the file, at load, and one line with exit 2 from the CLI."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

import agentlab as al
from agentlab.recorder import storage


async def handle_call(ctx):
    await ctx.session.run()


def _recorded(calls=3, seed=0, run_id=None):
    rec = al.Recorder(run_id=run_id)
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                     calls=calls, seed=seed, recorder=rec)
    return rec


def _save_many(path, seed, n):
    for i in range(n):
        _recorded(calls=2, seed=seed, run_id=f"p{seed}-{i}").save(path)


def test_two_processes_saving_to_one_path_take_turns(tmp_path):
    path = tmp_path / "run"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(path, s, 4)) for s in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    loaded = al.Recorder.load(path)
    assert loaded.run_id in {"p1-3", "p2-3"} and len(loaded.sessions) == 2
    names = sorted(p.name for p in path.iterdir())
    assert names[:2] == [".lock", "run.json"] and len(names) == 3 and names[2].startswith("v-")


SAVER = """
import sys, agentlab as al
async def handle_call(ctx): await ctx.session.run()
rec = al.Recorder(run_id="killed")
al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                 calls=300, recorder=rec)
print("ready", flush=True)
while True:
    rec.save(sys.argv[1])
"""


def test_a_save_killed_at_any_instant_leaves_a_whole_run(tmp_path):
    path = tmp_path / "run"
    first = _recorded(run_id="first")
    first.save(path)
    for delay in (0.0, 0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = al.Recorder.load(path)  # the old run or a new one, whole
        assert loaded.run_id in {"first", "killed"}
        assert len(loaded.sessions) == (3 if loaded.run_id == "first" else 300)
    first.save(path)  # the next save cleans whatever the killed ones left
    names = sorted(p.name for p in path.iterdir())
    assert names[:2] == [".lock", "run.json"] and len(names) == 3 and names[2].startswith("v-")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_crash_before_the_manifest_swap_keeps_the_old_run(tmp_path, monkeypatch):
    path = tmp_path / "run"
    first = _recorded(run_id="first")
    first.save(path)

    def crash(*args):
        raise OSError("power cut")

    monkeypatch.setattr(storage.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        _recorded(run_id="second").save(path)
    monkeypatch.undo()
    assert al.Recorder.load(path).run_id == "first"


def _damaged(tmp_path, how):
    path = tmp_path / "run"
    _recorded().save(path)
    data = path / json.loads((path / "run.json").read_text())["data"]
    events = data / "user_turn.parquet"
    if how == "garbage parquet":
        events.write_bytes(b"this is not parquet at all" * 10)
    elif how == "truncated parquet":
        events.write_bytes(events.read_bytes()[: events.stat().st_size // 2])
    elif how == "zero-byte parquet":
        events.write_bytes(b"")
    elif how == "empty manifest":
        (path / "run.json").write_text("")
    elif how == "invalid manifest":
        (path / "run.json").write_text("{not json")
    elif how == "incomplete manifest":
        (path / "run.json").write_text('{"config": null}')
    elif how == "missing table":
        events.unlink()
    elif how == "swapped tables":
        other = data / "agent_turn.parquet"
        a, b = events.read_bytes(), other.read_bytes()
        events.write_bytes(b)
        other.write_bytes(a)
    elif how == "missing data folder":
        import shutil
        shutil.rmtree(data)
    elif how == "missing labels":
        (data / "labels.parquet").unlink()
    return path


DAMAGE = {"garbage parquet": "user_turn.parquet", "truncated parquet": "user_turn.parquet",
          "zero-byte parquet": "user_turn.parquet", "empty manifest": "run.json",
          "invalid manifest": "run.json", "incomplete manifest": "run.json",
          "missing table": "user_turn.parquet", "swapped tables": "user_turn.parquet",
          "missing data folder": "run.json", "missing labels": "labels.parquet"}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_run_is_a_config_error_naming_the_file(tmp_path, how):
    path = _damaged(tmp_path, how)
    with pytest.raises(al.ConfigError, match=DAMAGE[how].replace(".", r"\.")) as err:
        al.Recorder.load(path)
    assert "damaged" in str(err.value)


@pytest.mark.parametrize("how", ["garbage parquet", "invalid manifest"])
def test_the_cli_reports_a_damaged_run_in_one_line_with_exit_2(tmp_path, how):
    path = _damaged(tmp_path, how)
    out = subprocess.run([sys.executable, "-m", "agentlab", "report", str(path), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and DAMAGE[how] in lines[0] and "damaged" in lines[0]


def test_a_run_saved_in_the_old_layout_still_loads_and_is_replaced_cleanly(tmp_path):
    """Runs saved before data folders kept their files at the top of the run folder."""
    rec = _recorded(run_id="old")
    path = tmp_path / "run"
    path.mkdir()
    for name in storage.SCHEMAS:
        table = rec.table(name)
        if table.num_rows:
            storage.pq.write_table(table, path / f"{name}.parquet")
    import pyarrow as pa
    storage.pq.write_table(pa.Table.from_pandas(rec.labels_frame().astype({"seed": "Int64"}),
                                                preserve_index=False), path / "labels.parquet")
    (path / "run.json").write_text(json.dumps({"run_id": "old", "config": None,
                                               "statistics": rec.statistics()}))
    assert len(al.Recorder.load(path).turns) == len(rec.turns)
    _recorded(run_id="new").save(path)
    assert al.Recorder.load(path).run_id == "new"
    assert not list(path.glob("*.parquet"))

"""Experiments across executors, cancellation, CLI and report."""

import asyncio
import subprocess
import sys
import textwrap
import types

import pandas as pd
import pytest

import agentlab as al

TABLES = ("events", "turns", "segments", "tools", "hooks", "errors", "sessions", "usage")


def baseline(runner):
    pass


def crm(runner):
    @runner.pipeline.on("user_turn_start")
    async def lookup(text):
        await asyncio.sleep(0.08)


def notebook_config():
    """A config defined the way a notebook cell defines it: in a module no worker can
    import, so it only travels by value."""
    cell = types.ModuleType("ipykernel_cell_7")
    exec(textwrap.dedent('''
        import asyncio

        def slow_llm_hook(runner):
            @runner.pipeline.on("llm")
            async def shout(data):
                await asyncio.sleep(0.05)
                return data["text"].upper()
    '''), cell.__dict__)
    sys.modules[cell.__name__] = cell
    return cell.slow_llm_hook


def tables(rec):
    """Every table but the run id and the hooks' measured wall time (real CPU time is a
    measurement, not part of the simulation)."""
    out = {name: getattr(rec, name).drop(columns="run_id") for name in TABLES}
    out["hooks"] = out["hooks"].drop(columns="wall_ms")
    return out


def experiment():
    return al.Experiment(configs={"baseline": baseline, "crm": crm,
                                  "notebook": notebook_config()},
                         scenarios=["order-status-tools", "impatient-barge-in",
                                    "failing-tool"], repeats=3, seed=11, batch_size=4)


@pytest.fixture(scope="module")
def in_process():
    return experiment().run(progress=False)


def test_paired_design_and_config_column(in_process):
    turns = in_process.turns
    assert set(turns.config.astype(str)) == {"baseline", "crm", "notebook"}
    # the same calls for every config (a config may change how many turns a call has:
    # a slower reply can make an impatient caller hang up sooner)
    calls = in_process.sessions.groupby("config", observed=True).session_id.apply(
        lambda ids: sorted(i.split("-", 1)[1] for i in ids))
    assert all(ids == calls.iloc[0] for ids in calls) and len(calls.iloc[0]) == 9
    assert in_process.complete and in_process.calls_done == in_process.calls_total == 27
    shout = turns[turns.config == "notebook"].agent_text.dropna()
    assert (shout == shout.str.upper()).all()


def test_process_pool_gives_identical_tables(in_process):
    pooled = experiment().run("processes", workers=2, progress=False)
    for name, df in tables(in_process).items():
        pd.testing.assert_frame_equal(df, tables(pooled)[name], obj=name)


def test_dask_local_cluster_gives_identical_tables(in_process):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        rec = experiment().run(client, progress=False)
    for name, df in tables(in_process).items():
        pd.testing.assert_frame_equal(df, tables(rec)[name], obj=name)


def test_stopping_keeps_the_finished_part():
    exp = experiment()

    def after_two(done, total):
        if done == 2:
            exp.stop()

    rec = exp.run(progress=False, on_batch=after_two)
    assert not rec.complete and rec.calls_done == 8 and rec.calls_total == 27
    assert len(rec.sessions) == 8 and rec.statistics()["events"] == len(rec.events)
    full = experiment().run(progress=False)
    first = full.sessions.session_id.astype(str).tolist()[:8]
    assert rec.sessions.session_id.astype(str).tolist() == first


def test_bad_configs_are_refused():
    with pytest.raises(al.ConfigError, match="unique"):
        al.Experiment(configs=[baseline, baseline])
    with pytest.raises(al.ConfigError, match="must return an al.AgentRunner"):
        al.Experiment(configs={"x": lambda: 3}, scenarios="agent-ends-call").run(
            progress=False)
    with pytest.raises(al.ConfigError, match="executor="):
        al.Experiment(configs=[baseline], scenarios="agent-ends-call").run("gpu")


# -- command line ---------------------------------------------------------------------
def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "agentlab", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


CONFIGS = '''
import asyncio

def baseline(runner):
    pass

def slow_crm(runner):
    @runner.pipeline.on("user_turn_start")
    async def lookup(text):
        await asyncio.sleep(0.3)

CONFIGS = {"baseline": baseline, "slow_crm": slow_crm}
'''


def test_cli_compare_report_and_exit_codes(tmp_path):
    configs = tmp_path / "configs.py"
    configs.write_text(CONFIGS)
    out = tmp_path / "report"
    ok = cli("compare", str(configs), "--scenarios", "order-status-tools", "--repeats", "3",
             "--out", str(out), "--quiet")
    assert ok.returncode == 0, ok.stderr
    assert "user_hooks" in ok.stdout and "regressions beyond 50 ms" in ok.stdout
    bad = cli("compare", str(configs), "--scenarios", "order-status-tools", "--repeats",
              "3", "--out", str(out), "--quiet", "--fail-on-regression")
    assert bad.returncode == 1
    page = (out / "index.html").read_text()
    for piece in ("<h2>summary</h2>", "<h2>comparison</h2>", "seg_user_hooks_ms",
                  'src="data:image/png;base64,', 'alt="segments"', 'alt="ecdf"'):
        assert piece in page, piece
    assert {p.name for p in out.iterdir()} >= {"summary.csv", "comparison.csv",
                                               "regressions.csv", "segments.png",
                                               "ecdf.png", "index.html", "run"}
    rep = cli("report", str(out), "--out", str(tmp_path / "again"))
    assert rep.returncode == 0, rep.stderr
    assert (tmp_path / "again" / "index.html").exists()


def test_cli_simulate_writes_parquet_tables(tmp_path):
    res = cli("simulate", "--scenarios", "agent-ends-call", "--repeats", "2", "--seed", "3",
              "--out", str(tmp_path), "--quiet")
    assert res.returncode == 0, res.stderr
    turns = pd.read_parquet(tmp_path / "turns.parquet")
    assert len(turns) == 4 and set(turns.config) == {"default"}
    assert al.Recorder.load(tmp_path / "run").statistics()["sessions"] == 2


@pytest.mark.parametrize("args, message", [
    (["simulate", "--out", "x", "--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["simulate", "--out", "x", "--scenarios", "nope"], "no dataset or scenario 'nope'"),
    (["compare", "missing.py"], "configs must be an existing .py file"),
    (["simulate"], "the following arguments are required: --out"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr


def test_cli_configs_file_without_configs(tmp_path):
    (tmp_path / "c.py").write_text("x = 1\n")
    res = cli("compare", str(tmp_path / "c.py"), cwd=tmp_path)
    assert res.returncode == 2 and "define CONFIGS" in res.stderr


def test_every_command_has_help():
    for cmd in ([], ["demo"], ["simulate"], ["compare"], ["report"]):
        res = cli(*cmd, "--help")
        assert res.returncode == 0 and "usage:" in res.stdout

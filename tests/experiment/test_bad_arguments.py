"""Bad arguments get a clear error before any work; a config that fails at run time costs
only its own calls."""

import pytest

import agentlab as al


async def handle_call(ctx):
    await ctx.session.run()


RUNNER = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())


@pytest.mark.parametrize("kw, message", [
    ({"seed": "abc"}, "seed must be an int >= 0, got 'abc'"),
    ({"seed": 1.5}, "seed must be an int"),
    ({"repeats": None, "scenarios": "scenarios"}, "repeats must be an int >= 1, got None"),
    ({"max_call_s": -1}, "max_call_s must be a number of seconds > 0"),
    ({"max_call_s": "x"}, "max_call_s must be a number of seconds > 0"),
    ({"grace_s": float("nan")}, "grace_s must be a number of seconds > 0"),
])
def test_simulate_refuses_bad_arguments_before_any_call(kw, message):
    with pytest.raises(al.ConfigError, match=message):
        al.simulate_sync(RUNNER, **kw)


def test_a_config_failing_at_run_time_is_an_error_row_and_the_others_are_kept():
    builds = {"n": 0}

    def baseline(runner):
        pass

    def flaky(runner):  # builds once when the experiment checks it, then fails
        builds["n"] += 1
        if builds["n"] > 1:
            raise RuntimeError("CRM unreachable")

    rec = al.Experiment(configs=[baseline, flaky], scenarios="scenarios", repeats=2).run()
    configs = rec.sessions.config.astype(str).value_counts().to_dict()
    n = 2 * len(al.datasets.load("scenarios"))  # two repeats of each
    assert configs == {"baseline": n}
    failed = rec.errors[rec.errors.component.astype(str) == "config"]
    assert len(failed) >= 1 and set(failed.config.astype(str)) == {"flaky"}
    assert "CRM unreachable" in failed.message.iloc[0] and "did not run" in failed.message.iloc[0]
    assert not rec.complete and rec.calls_done == n and rec.calls_total == 2 * n


def test_a_script_running_processes_without_a_main_guard_gets_the_fix(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "sweep.py"
    script.write_text(
        "import agentlab as al\n"
        "def baseline(runner):\n    pass\n"
        "rec = al.Experiment(configs=[baseline], scenarios='scenarios', batch_size=7)"
        ".run('processes', workers=2, progress=False)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode != 0
    # the error line (the resource tracker may add warnings after it at exit)
    errors = [line for line in out.stderr.splitlines()
              if line.startswith("agentlab.errors.ConfigError")]
    assert errors and '__name__ == "__main__"' in errors[-1], out.stderr[-2000:]
    assert not any(line.startswith("concurrent.futures.process.BrokenProcessPool")
                   for line in out.stderr.splitlines())


def test_the_comparator_says_it_wants_an_experiment_and_hook_cost_takes_raw_rows():
    import matplotlib

    matplotlib.use("Agg")
    rec = al.Recorder()
    pipeline = al.Pipeline()

    @pipeline.on("user_turn_start")
    async def crm(transcript):
        pass

    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline), calls=2,
                     recorder=rec)
    with pytest.raises(al.ConfigError, match="pass an al.Experiment.*EventExplorer"):
        al.widgets.Comparator(rec)
    ax = al.plot.hook_cost(rec.hooks)  # the raw table, summarized for the plot
    assert len(ax.patches) == 1


def test_a_config_registers_session_hooks_for_every_call():
    seen = []

    def logging_config(runner):
        @runner.session_hooks.on("user_turn")
        async def log(text):
            seen.append(text)

    rec = al.Experiment(configs=[logging_config], scenarios="order-status-tools").run(
        progress=False)
    assert seen == rec.turns.user_text.tolist() and len(seen) >= 2

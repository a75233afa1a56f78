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
    assert configs == {"baseline": 28}
    failed = rec.errors[rec.errors.component.astype(str) == "config"]
    assert len(failed) >= 1 and set(failed.config.astype(str)) == {"flaky"}
    assert "CRM unreachable" in failed.message.iloc[0] and "did not run" in failed.message.iloc[0]
    assert not rec.complete and rec.calls_done == 28 and rec.calls_total == 56

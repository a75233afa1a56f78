"""What moves the tail (al.analysis.sensitivity), task success from expected:, the
Pareto plot and per-config intervals."""

import asyncio

import matplotlib
import numpy as np
import pytest

import agentlab as al

matplotlib.use("Agg")


def runner(slow_hook_every: int = 0):
    turns = []  # over all calls

    async def handle_call(ctx):
        if slow_hook_every:

            @ctx.session.on("user_turn")
            async def crm_lookup(text):
                turns.append(text)
                if len(turns) % slow_hook_every == 0:
                    await asyncio.sleep(6.0)  # virtual time: a slow CRM now and then

        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())


def test_a_slow_hook_is_what_moves_the_tail_and_the_shares_add_up():
    rec = al.Recorder(config="crm")
    al.simulate_sync(runner(slow_hook_every=8), calls=40, seed=3, recorder=rec)
    result = al.analysis.sensitivity(rec.turns)
    segments = result[result["kind"] == "segment"].set_index("name")
    assert segments["share"].sum() == pytest.approx(1.0)
    assert segments["share"].idxmax() == "user_hooks"
    assert segments.loc["user_hooks", "share"] > 0.5
    ax = al.plot.sensitivity(result)
    assert len(ax.patches) == len(result.dropna(subset=["share"]))


def test_factor_shares_split_the_tails_variance_across_configs_and_scenarios():
    exp = al.Experiment(configs={"plain": _plain, "slow": _slow},
                        scenarios="scenarios", repeats=2, seed=5)
    rec = exp.run(progress=False)
    result = al.analysis.sensitivity(rec.turns, by=["config", "scenario_id"])
    factors = result[result["kind"] == "factor"].set_index("name")
    assert factors["share"].sum() == pytest.approx(1.0)
    assert set(factors.index) == {"config", "scenario_id", "interaction"}
    assert (factors["share"].drop("interaction") >= 0).all()


def _plain(runner):
    pass


def _slow(runner):
    @runner.pipeline.on("user_turn_start")
    async def slow(transcript):
        await asyncio.sleep(1.5)


def test_task_success_checks_the_outcome_tools_and_events_expected():
    good = al.Scenario.from_dict({"id": "ok", "turns": [{"user": "Hi."}],
                                  "expected": {"outcome": "hangup",
                                               "events": ["user_turn"]}})
    bad = al.Scenario.from_dict({"id": "bad", "turns": [{"user": "Hi."}],
                                 "expected": {"outcome": "transfer_human",
                                              "tools": ["lookup_order"]}})
    rec = al.Recorder()
    al.simulate_sync(runner(), scenarios=[good, bad], seed=1, recorder=rec)
    out = al.analysis.task_success(rec, [good, bad]).set_index("scenario_id")
    assert out.loc["ok", "success"] and not out.loc["bad", "success"]
    assert not out.loc["bad", "outcome_ok"] and not out.loc["bad", "tools_ok"]
    assert out.loc["bad", "events_ok"]


def test_pareto_draws_the_frontier_of_the_points_nothing_beats():
    import pandas as pd

    points = pd.DataFrame({"config": ["a", "b", "c", "d"], "p95": [900, 1200, 1000, 800],
                           "success": [0.8, 0.95, 0.7, 0.6]})
    ax = al.plot.pareto(points, "p95", "success")
    frontier = ax.lines[0].get_xydata().tolist()
    assert frontier == [[800, 0.6], [900, 0.8], [1200, 0.95]]  # c is beaten by a
    with pytest.raises(al.ConfigError, match="no column 'p99'"):
        al.plot.pareto(points, "p99", "success")


def test_intervals_bracket_each_configs_percentiles():
    rec = al.Recorder(config="base")
    al.simulate_sync(runner(), calls=30, seed=2, recorder=rec)
    row = al.analysis.intervals(rec.turns).iloc[0]
    for stat in ("p50", "p95", "mean"):
        assert row[f"{stat}_lo"] <= row[stat] <= row[f"{stat}_hi"]
    assert row["n"] == rec.turns["total_e2e_ms"].notna().sum()
    assert np.isfinite(row["p95_hi"])

"""Recorder tables, storage, analysis and plots."""

import asyncio
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

import agentlab as al
from agentlab import events as ev
from agentlab.recorder import storage


def runner(pipeline=None):
    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=pipeline or al.Pipeline())


@pytest.fixture(scope="module")
def recorded():
    rec = al.Recorder(run_id="r1", config="base")
    sim = al.simulate_sync(runner(), scenarios="scenarios", seed=2, recorder=rec)
    return rec, sim


# -- tables ---------------------------------------------------------------------------
def test_every_event_is_one_row_and_nothing_is_lost(recorded):
    rec, sim = recorded
    events = rec.events
    assert len(events) == len(sim.events) == rec.statistics()["events"]
    assert events.event.tolist() == [e.name for e in sim.events]
    assert events.seq.tolist() == [e.seq for e in sim.events]
    assert rec.statistics()["by_event"]["turn_end"] == sum(e.name == "turn_end"
                                                          for e in sim.events)


def test_table_schemas_and_dtypes(recorded):
    rec, _ = recorded
    for name in ("events", "turns", "segments", "tools", "hooks", "errors", "sessions",
                 "usage"):
        df = getattr(rec, name)
        assert list(df.columns[:6]) == ["run_id", "session_id", "scenario_id", "config",
                                        "seed", "call_index"], name
        assert df.session_id.dtype == "category" and df.config.dtype == "category", name
        assert set(df.config.astype(str)) <= {"base"}
    assert rec.events.event.dtype == "category" and rec.events.t_ms.dtype == "float64"
    turns = rec.turns
    for col in ("user_text", "agent_text", "interrupted", "cancelled", "total_e2e_ms",
                "transcription_delay_ms", "end_of_turn_delay_ms", "llm_ttft_ms",
                "tts_ttfb_ms", "e2e_latency_ms", "seg_vad_ms", "seg_tools_ms", "seg_other_ms"):
        assert col in turns.columns, col
    assert turns.interrupted.dtype == bool and turns.cancelled.dtype == bool
    assert turns.total_e2e_ms.dtype == "float64"
    assert rec.segments.segment.dtype == "category" and rec.segments.segment.cat.ordered
    assert rec.tools.status.dtype == "category"
    assert set(rec.usage.columns) >= {"tokens_in", "tokens_out", "tts_characters",
                                      "stt_seconds"}


def test_segments_sum_to_totals_and_flags(recorded):
    rec, _ = recorded
    turns = rec.turns
    done = turns[~turns.cancelled]
    seg = al.analysis.segment_columns(turns)
    assert (done[seg].sum(axis=1) - done.total_e2e_ms).abs().max() < 1e-6
    long = rec.segments.groupby(["session_id", "turn_id"], observed=True).ms.sum()
    wide = done.set_index(["session_id", "turn_id"]).total_e2e_ms
    assert (long.reindex(wide.index) - wide).abs().max() < 1e-6
    barged = turns[turns.scenario_id == "impatient-barge-in"]
    assert barged.interrupted.sum() == 2  # the impatient caller's barge-ins
    # the caller who hung up on a slow agent left a cancelled turn, kept and flagged
    cut = turns[turns.scenario_id == "caller-hangs-up-mid-call"]
    assert cut.cancelled.all() and cut.total_e2e_ms.isna().all()


def test_tools_errors_and_sessions(recorded):
    rec, _ = recorded
    tools = rec.tools
    failing = tools[tools.scenario_id == "failing-tool"].iloc[0]
    assert failing.status == "error" and "503" in failing.error
    assert failing.t_result_ms - failing.t_call_ms == pytest.approx(failing.duration_ms)
    assert set(rec.errors.component.astype(str)) == {"tool:get_balance", "tool:check_stock"}
    s = rec.sessions.set_index("scenario_id")
    assert s.loc["escalation-to-human", "reason"] == "transfer_human"
    assert len(rec.sessions) == len(al.datasets.load("scenarios"))


def _stamp(cls, seq, t, *fields, turn=1):
    return cls("s1", turn, seq, t, *fields)


def test_peer_metrics_follow_their_definitions():
    rec = al.Recorder()
    for e in [
        _stamp(ev.SessionStart, 1, 0.0, "a", "c", "u", "inbound", turn=0),
        _stamp(ev.UserSpeechStart, 2, 100.0), _stamp(ev.UserSpeechEnd, 3, 1000.0),
        _stamp(ev.SttFinal, 4, 1250.0, "hi"), _stamp(ev.UserTurn, 5, 1600.0, "hi"),
        _stamp(ev.LlmRequest, 6, 1700.0), _stamp(ev.LlmFirstToken, 7, 2100.0),
        _stamp(ev.TtsRequest, 8, 2200.0, "Hello."), _stamp(ev.TtsFirstAudio, 9, 2290.0),
        _stamp(ev.AgentSpeechStart, 10, 2390.0, "reply"),
        _stamp(ev.AgentTurn, 11, 2500.0, "Hello."),
        _stamp(ev.AgentSpeechEnd, 12, 3000.0, False, "reply"),
        _stamp(ev.TurnEnd, 13, 3000.0, 1390.0, (("a", 1000.0), ("b", 390.0)), False),
        _stamp(ev.SessionEnd, 14, 3500.0, "hangup", "ended", 3500.0),
    ]:
        rec(e)
    t = rec.turns.iloc[0]
    assert t.transcription_delay_ms == 250.0  # LiveKit: final transcript - end of speech
    assert t.end_of_turn_delay_ms == 600.0    # LiveKit: turn commit - end of speech
    assert t.llm_ttft_ms == 400.0 and t.tts_ttfb_ms == 90.0
    assert t.e2e_latency_ms == 1390.0 == t.total_e2e_ms  # agent audio - end of speech
    assert rec.usage.iloc[0].stt_seconds == pytest.approx(0.9)


def test_a_million_events_nothing_lost():
    rec = al.Recorder()
    n = 1_000_000
    kinds = [lambda i: ev.SttPartial("s", i // 50, i, float(i), "some words"),
             lambda i: ev.LlmRequest("s", i // 50, i, float(i)),
             lambda i: ev.HookCall("s", i // 50, i, float(i), "user_turn", "session",
                                   "crm", 1.5, 2000, True)]
    for i in range(n):
        rec(kinds[i % 3](i))
    stats = rec.statistics()
    assert stats["events"] == n
    assert stats["by_event"] == {"hook_call": n // 3, "llm_request": n // 3,
                                 "stt_partial": n // 3 + 1}
    events = rec.events
    assert len(events) == n and events.seq.is_monotonic_increasing
    assert len(rec.hooks) == n // 3


# -- storage --------------------------------------------------------------------------
def _equal(a, b):
    for name in ("events", "turns", "segments", "tools", "hooks", "errors", "sessions",
                 "usage"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_like=False)


def test_save_load_round_trip(recorded, tmp_path):
    rec, _ = recorded
    path = rec.save(tmp_path / "run")
    loaded = al.Recorder.load(path)
    counts = ("events", "sessions", "by_event")
    assert [loaded.statistics()[k] for k in counts] == [rec.statistics()[k] for k in counts]
    assert len(loaded.turns) > 0
    _equal(rec, loaded)  # every table, frame for frame


def test_interrupted_save_leaves_the_previous_run(recorded, tmp_path, monkeypatch):
    rec, _ = recorded
    path = rec.save(tmp_path / "run")
    other = al.Recorder(run_id="r2")
    al.simulate_sync(runner(), calls=2, recorder=other)

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(storage.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        other.save(path)
    monkeypatch.undo()
    _equal(rec, al.Recorder.load(path))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temp folder left behind


def test_store_appends_runs_and_answers_sql(recorded, tmp_path):
    rec, _ = recorded
    other = al.Recorder(run_id="r2", config="fast")
    al.simulate_sync(runner(), calls=3, seed=1, recorder=other, profile="fast-tuned-cascade")
    with al.Store(tmp_path / "runs.duckdb") as store:
        store.append(rec)
        store.append(other)
        runs = store.runs()
        assert runs.run_id.tolist() == ["r1", "r2"] and runs.calls.tolist() == [len(al.datasets.load("scenarios")), 3]
        p50 = store.sql("select config, median(total_e2e_ms) as p50 from turns "
                        "group by config order by p50")
        assert p50.config.tolist() == ["fast", "base"]
        assert len(store.table("events", run_id="r2")) == len(other.events)
        with pytest.raises(al.ConfigError, match="already in"):
            store.append(other)


# -- analysis -------------------------------------------------------------------------
def _two_configs(extra_ms: float):
    """The same calls twice; the candidate's user_turn hook adds ``extra_ms``."""
    recs = []
    for name, delay in (("base", 0.0), ("crm", extra_ms)):
        pipeline = al.Pipeline()
        if delay:
            @pipeline.on("user_turn_start")
            async def crm(text, delay=delay):
                await asyncio.sleep(delay / 1000)

        rec = al.Recorder(config=name)
        al.simulate_sync(runner(pipeline), scenarios="scenarios", repeats=3, seed=5,
                         recorder=rec)
        recs.append(rec)
    return pd.concat([r.turns for r in recs], ignore_index=True)


def test_comparison_finds_an_injected_200ms_on_one_segment_only():
    turns = _two_configs(200.0)
    cmp = al.analysis.compare(turns, "base", "crm")
    row = cmp.set_index("metric")
    assert row.loc["seg_user_hooks_ms", "p50_diff"] == pytest.approx(200.0)
    assert row.loc["seg_user_hooks_ms", "mean_diff_lo"] == pytest.approx(200.0, abs=1.0)
    bad = al.analysis.regressions(cmp, threshold_ms=50)
    assert set(bad.metric) == {"seg_user_hooks_ms", "total_e2e_ms"}
    others = row.drop(["seg_user_hooks_ms", "total_e2e_ms"])
    assert (others.p50_diff.abs() < 50).all()
    summary = al.analysis.summary(turns, "total_e2e_ms", by="config").set_index("config")
    assert summary.loc["crm", "p50"] - summary.loc["base", "p50"] == pytest.approx(200, abs=60)


def test_hook_cost_per_turn():
    pipeline = al.Pipeline()

    @pipeline.on("user_turn_start")
    async def crm(text):
        await asyncio.sleep(0.08)

    rec = al.Recorder(config="crm")
    al.simulate_sync(runner(pipeline), calls=4, seed=1, recorder=rec)
    cost = al.analysis.hook_cost(rec.hooks, rec.turns)
    row = cost.iloc[0]
    assert row.hook == "user_turn_start" and row.calls == len(rec.turns)
    assert row.clock_ms_per_turn == pytest.approx(80.0)


# -- plots ----------------------------------------------------------------------------
def test_plots_return_axes_and_draw_into_a_given_ax(recorded):
    rec, _ = recorded
    turns = rec.turns
    fig, axes = plt.subplots(2, 3)
    got = [al.plot.segments(turns, by="scenario_id", ax=axes[0, 0]),
           al.plot.ecdf(turns, "total_e2e_ms", by="config", ax=axes[0, 1]),
           al.plot.waterfall(turns, ax=axes[0, 2]),
           al.plot.timeline(rec.events, "r1" and turns.session_id.iloc[0], ax=axes[1, 0],
                            audio=[math.sin(i / 5) for i in range(16000)]),
           al.plot.hook_cost(pd.DataFrame({"hook": ["x"], "handler": ["h"],
                                           "wall_ms_mean": [1.0]}), ax=axes[1, 1])]
    assert got == [axes[0, 0], axes[0, 1], axes[0, 2], axes[1, 0], axes[1, 1]]
    assert all(ax.has_data() for ax in got)
    plt.close(fig)
    ax = al.plot.segments(turns)
    assert ax.figure is not None
    plt.close(ax.figure)
    with pytest.raises(al.ConfigError, match="no column 'nope'"):
        al.plot.ecdf(turns, "nope")


def test_hook_effect_shows_where_an_llm_hook_s_time_goes():
    """A chain llm hook costs ~0 ms itself; the table and plot put its effect (the wait
    for the full response) in llm_rest, and a blocking user-turn hook in user_hooks."""
    def redact(runner):
        @runner.pipeline.on("user_turn_start")
        async def crm(text):
            await asyncio.sleep(0.05)

        @runner.pipeline.on("llm")
        async def scrub(data):
            return data["text"]

    rec = al.Experiment(configs={"base": lambda r: None, "redact": redact},
                        scenarios="scenarios", seed=3).run(progress=False)
    effect = al.analysis.hook_effect(rec.turns, rec.hooks).set_index("segment")
    assert set(effect.config) == {"redact"}
    assert effect.at["user_hooks", "delta_ms"] == pytest.approx(50.0)
    assert "crm (user_turn_start)" in effect.at["user_hooks", "handlers"]
    assert effect.at["llm_rest", "delta_ms"] > 5  # buffering: the hook's real cost
    assert "scrub (llm)" in effect.at["llm_rest", "handlers"]
    assert al.analysis.hook_cost(rec.hooks).set_index("hook").at["llm", "clock_ms_total"] \
        == 0.0  # ... while its own time is nothing
    fig, (top, bottom) = plt.subplots(2, 1)
    al.plot.hook_effect(effect.reset_index(), ax=top)
    labels = [t.get_text() for t in top.texts]
    assert any(t.startswith("llm_rest +") and "scrub (llm)" in t for t in labels)
    al.plot.hook_cost(rec.hooks, ax=bottom)
    names = [t.get_text() for t in bottom.get_yticklabels()]
    assert "redact / llm / redact.scrub" \
        in names  # the short name: no module path, no <locals>
    plt.close(fig)
    with pytest.raises(al.ConfigError, match="no config 'nope'"):
        al.analysis.hook_effect(rec.turns, rec.hooks, baseline="nope")


def test_short_handler_names():
    short = al.analysis.short_handler
    assert short("agentlab.demo.crm_lookup.<locals>.lookup") == "crm_lookup.lookup"
    assert short("__main__.redact") == "redact"
    assert short("tests.recorder.test_x.<locals>.f") == "test_x.f"

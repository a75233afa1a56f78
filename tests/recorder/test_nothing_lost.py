"""The recorder never loses what it received (ARCHITECTURE §5)."""

import warnings

import pytest

import agentlab as al


async def handle_call(ctx):
    await ctx.session.run()


def _runner(**kw):
    return al.AgentRunner(entrypoint=kw.pop("entrypoint", handle_call),
                          pipeline=kw.pop("pipeline", al.Pipeline()), **kw)


def test_a_non_str_transcript_from_one_call_costs_no_rows():
    pipeline = al.Pipeline()

    @pipeline.on("stt")
    async def numeric(audio_stream):
        async for event in al.run_stt(audio_stream):
            if event.data and event.data.text and event.data.text.startswith("Order"):
                event.data.text = 4417  # one turn of one call
            yield event

    rec = al.Recorder()
    sim = al.simulate_sync(_runner(pipeline=pipeline), ["Hello.", "Order four four."],
                           calls=3, recorder=rec)
    assert rec.statistics()["events"] == len(sim.events) == len(rec.events)
    assert rec.turns.user_text.tolist().count("4417") == 3
    warned = rec.errors[rec.errors.component.astype(str) == "hook:stt"]
    assert len(warned) == 3 and "must be a str" in warned.message.iloc[0]


def test_a_bad_value_that_gets_past_the_sources_is_coerced_and_said_not_lost():
    from agentlab import events as ev

    rec = al.Recorder()
    sim = al.simulate_sync(_runner(), calls=2, recorder=rec)
    rec(ev.AgentTurn(sim.calls[0].session_id, 1, 999, 1.0, 12345))  # text as an int
    with pytest.warns(al.AgentlabWarning, match=r"agent_turn.text .* was int 12345"):
        rec.flush()
    assert len(rec.events) == len(sim.events) + 1
    assert rec.statistics()["coerced"] == {"agent_turn.text": 1}


def test_bad_agent_ids_are_refused_where_they_are_given():
    with pytest.raises(al.ConfigError, match=r"AgentRunner\(agent_id=42\)"):
        _runner(agent_id=42)

    async def entry(ctx):
        @ctx.session.on("user_turn")
        async def transfer(text):
            await ctx.session.transfer_to_agent(7)
        await ctx.session.run()

    rec = al.Recorder()
    sim = al.simulate_sync(_runner(entrypoint=entry), calls=2, recorder=rec)
    assert len(rec.events) == len(sim.events)
    refused = rec.errors[rec.errors.message.str.contains(r"transfer_to_agent\(agent_id=7\)")]
    assert len(refused) == 6  # each turn of both calls: an error row, the call goes on
    assert set(rec.sessions.final_state.astype(str)) == {"ended"}


def test_two_runs_never_share_rows():
    runner = _runner()
    one = al.Recorder()
    al.simulate_sync(runner, calls=2, seed=3, recorder=one)
    al.simulate_sync(runner, calls=2, seed=3, recorder=one)  # same recorder, same seed
    assert len(one.sessions) == 4 and len(one.turns) == 4 * 3
    assert one.sessions.session_id.nunique() == 4
    a, b = al.Recorder(), al.Recorder()
    al.simulate_sync(runner, calls=2, seed=3, recorder=a)
    al.simulate_sync(runner, calls=2, seed=3, recorder=b)
    assert list(a.turns.session_id) == list(b.turns.session_id)  # a fresh recorder: same ids
    merged = al.Recorder.merge([a.export(), b.export()])
    assert len(merged.sessions) == 4 and len(merged.turns) == len(a.turns) + len(b.turns)
    assert len(merged.events) == len(a.events) + len(b.events)


def test_a_recorder_on_the_runner_and_passed_again_records_once():
    runner = _runner()
    rec = al.Recorder().attach(runner)
    sim = al.simulate_sync(runner, calls=1, recorder=rec)
    assert len(rec.events) == len(sim.events)


def test_every_table_of_an_empty_recorder_is_empty_not_an_error():
    rec = al.Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("events", "turns", "segments", "tools", "hooks", "errors", "sessions",
                     "usage"):
            assert getattr(rec, name).empty, name


def test_text_a_failing_tts_hook_took_down_is_shown_as_not_spoken():
    pipeline = al.Pipeline()

    @pipeline.on("tts")
    async def flaky(text_stream):
        n = 0
        async for pcm in al.run_tts(text_stream):
            n += 1
            if n > 5:
                raise RuntimeError("tts provider dropped the socket")
            yield pcm

    rec = al.Recorder()
    sim = al.simulate_sync(_runner(pipeline=pipeline), ["Where is my order?"], recorder=rec)
    reply = rec.turns.agent_text.iloc[0]
    spoken = " ".join(sim.calls[0].spoken)
    assert len(spoken.split()) < len(reply.split())
    lost = rec.errors[rec.errors.component.astype(str) == "tts"]
    assert len(lost) == 1
    n = len(reply.split()) - len(spoken.split())
    assert lost.message.iloc[0].startswith(f"{n} of {len(reply.split())} words were never")


def test_a_failing_automatic_flush_keeps_the_recorder_and_its_events(monkeypatch):
    from agentlab.recorder import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "FLUSH_EVERY", 10)
    rec = al.Recorder()
    real = recorder_module.Recorder.flush
    failures = {"n": 0}

    def flaky(self):
        if failures["n"] < 2:  # the first two automatic flushes fail
            failures["n"] += 1
            raise MemoryError("no room right now")
        real(self)

    monkeypatch.setattr(recorder_module.Recorder, "flush", flaky)
    with pytest.warns(al.AgentlabWarning, match="stay buffered"):
        sim = al.simulate_sync(_runner(), calls=2, recorder=rec)
    assert len(rec.events) == len(sim.events)  # nothing dropped, the recorder kept

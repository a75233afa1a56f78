"""Outbound calls: the agent dials; the call rings, then is answered, goes to voicemail,
rings out or is busy. ``direction`` and ``user_number`` are the dialled call's."""

import pytest

import agentlab as al

seen = []


async def handle_call(ctx):
    seen.append((ctx.direction, ctx.user_number, ctx.answered_by))
    await ctx.session.run()


def _call(answer, script=("Yes, now is fine.", "Okay, thanks."), **kw):
    seen.clear()
    ended = []
    runner = al.AgentRunner(entrypoint=handle_call, agent_id="reminders")

    @runner.on("call_end")
    async def log_end(ctx, final_state):
        ended.append((ctx.direction, final_state))

    rec = al.Recorder()
    sim = al.simulate_sync(runner, list(script), recorder=rec,
                           call=al.Outbound("+15550001111", answer=answer, **kw))
    return sim, rec, ended


def test_an_answered_outbound_call_rings_then_the_agent_speaks_first():
    sim, rec, ended = _call("answered", ring_ms=6000)
    assert seen == [("outbound", "+15550001111", "human")]
    assert ended == [("outbound", "ended")]
    ev = rec.events
    start = ev[ev.event == "session_start"].t_ms.iloc[0]
    first_speech = ev[ev.event.isin(["agent_speech_start", "user_speech_start"])].iloc[0]
    assert start == pytest.approx(6000)  # after the ring
    assert first_speech.event == "agent_speech_start"  # the agent speaks first
    assert "reminders calling" in sim.calls[0].spoken[0]
    s = rec.sessions.iloc[0]
    assert s.direction == "outbound" and s.reason == "hangup" and len(rec.turns) == 2


@pytest.mark.parametrize("answer, at_ms", [("no_answer", 30_000), ("busy", 0)])
def test_an_unanswered_outbound_call_never_runs_the_entrypoint_but_call_end_fires(answer,
                                                                               at_ms):
    sim, rec, ended = _call(answer)
    assert seen == []  # nobody picked up: no session to handle
    assert ended == [("outbound", "ended")]
    assert sim.calls[0].reason == answer
    s = rec.sessions.iloc[0]
    assert s.reason == answer and s.direction == "outbound" and s.duration_ms == at_ms
    assert rec.turns.empty


def test_voicemail_gets_the_agents_message_and_no_turns():
    sim, rec, ended = _call("voicemail")
    assert ended == [("outbound", "ended")]
    assert seen == [("outbound", "+15550001111", "voicemail")]
    assert sim.calls[0].reason == "voicemail" and rec.turns.empty
    assert "call us back" in sim.calls[0].spoken[0]
    speech = rec.events[rec.events.event.isin(["agent_speech_start", "agent_speech_end"])]
    assert speech.event.tolist() == ["agent_speech_start", "agent_speech_end"]


def test_a_scenario_places_its_own_call_and_each_call_can_be_set():
    scenario = al.Scenario.from_dict({
        "id": "renewal-reminder", "greeting": "Hi, this is Acme about your renewal.",
        "call": {"direction": "outbound", "user_number": "+15557654321", "ring_ms": 2500},
        "turns": [{"user": "Oh, right. Renew it please."}]}, "test")
    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call), scenarios=[scenario],
                     recorder=rec)
    s = rec.sessions.iloc[0]
    assert (s.direction, s.user_id) == ("outbound", "+15557654321")  # the number dialled
    assert rec.events[rec.events.event == "session_start"].t_ms.iloc[0] == 2500
    rec = al.Recorder()
    calls = [al.Outbound(f"+1555000000{i}", answer=a)
             for i, a in enumerate(["answered", "busy", "voicemail"])]
    sim = al.simulate_sync(al.AgentRunner(entrypoint=handle_call), ["Sure."], calls=3,
                           call=calls, recorder=rec)
    assert [c.reason for c in sim.calls] == ["hangup", "busy", "voicemail"]
    assert rec.sessions.user_id.astype(str).tolist() == [c.user_number for c in calls]
    assert rec.sessions.direction.astype(str).tolist() == ["outbound"] * 3


def test_bad_call_setups_are_refused():
    with pytest.raises(al.ConfigError, match="use one of answered, no_answer, busy"):
        al.Outbound("+1555", answer="hung_up")
    with pytest.raises(al.ConfigError, match="user_number must be a str"):
        al.Outbound(15551234567)
    with pytest.raises(al.ConfigError, match="one per call"):
        al.simulate_sync(al.AgentRunner(entrypoint=handle_call), ["Hi."], calls=2,
                         call=[al.Outbound("+1")])
    with pytest.raises(al.ConfigError, match="field 'call'"):
        al.Scenario.from_dict({"id": "x", "call": {"answer": "busy"},
                               "turns": [{"user": "Hi"}]}, "bad.yaml")

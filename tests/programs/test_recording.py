"""Recording controls (the unpod document's "say, transfer, end, and recording controls"):
a call is recorded from its start; pause, resume, stop and start change that, each with a
``recording`` event; the tables say which turns were recorded and for how long."""

import pytest

import agentlab as al


def _runner():
    async def handle_call(ctx):
        @ctx.session.on("agent_turn")
        async def around_the_card(text):
            if "card number" in text:  # the agent asks for it: stop keeping audio
                await ctx.session.pause_recording()
            elif not ctx.session.recording:
                await ctx.session.resume_recording()

        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call)


SCENARIO = al.Scenario.from_dict({
    "id": "card-payment", "turns": [
        {"user": "I want to pay my bill.", "agent": "Sure. What is your card number?"},
        {"user": "It is 4111 1111 1111 1111.", "agent": "Thanks, that went through."},
        {"user": "Great, bye.", "agent": "Goodbye!"}]}, "test")


def test_the_card_turn_is_not_recorded_and_the_events_say_when():
    rec = al.Recorder()
    al.simulate_sync(_runner(), scenarios=[SCENARIO], recorder=rec)
    assert rec.turns.recorded.tolist() == [True, False, True]
    marks = rec.events[rec.events.event == "recording"]
    assert marks.name.astype(str).tolist() == ["paused", "resumed"]
    s = rec.sessions.iloc[0]
    paused = marks.t_ms.iloc[1] - marks.t_ms.iloc[0]
    assert s.recorded_ms == pytest.approx(s.duration_ms - paused)
    assert (rec.sessions.recorded_ms <= rec.sessions.duration_ms).all()


def test_a_call_without_controls_is_recorded_throughout():
    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=_runner().entrypoint), ["Hello."],
                     recorder=rec)
    assert rec.turns.recorded.all()
    assert rec.sessions.recorded_ms.iloc[0] == rec.sessions.duration_ms.iloc[0]


def test_a_control_that_does_not_apply_says_what_to_do():
    errors = []

    async def handle_call(ctx):
        @ctx.session.on("user_turn")
        async def resume_first(text):
            try:
                await ctx.session.resume_recording()  # it was never paused
            except al.ConfigError as err:
                errors.append(str(err))
            await ctx.session.stop_recording()
            await ctx.session.stop_recording()  # already so: nothing changes
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call), ["Hello."], recorder=rec)
    assert errors == ["cannot resume the recording: it is started; pause_recording() or "
                      "stop_recording() it."]
    assert rec.events[rec.events.event == "recording"].name.astype(str).tolist() == \
        ["stopped"]

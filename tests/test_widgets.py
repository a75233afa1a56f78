"""Headless widget tests: values, clicks, callbacks."""

import asyncio

import pytest

import agentlab as al


def make_runner():
    pipeline = al.Pipeline()

    @pipeline.on("user_turn_start")
    async def crm(text):
        await asyncio.sleep(0.08)

    @pipeline.on("llm")
    async def redact(data):
        return data["text"].replace("SSN", "[REDACTED]")

    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)


def test_console_turns_toggles_interrupt_and_end():
    console = al.widgets.SessionConsole(make_runner(), seed=1)
    assert repr(console) == "SessionConsole(agent_id='support', turns=0)"
    toggles = {box.description: box for box in console.toggles.children}
    assert set(toggles) == {"user_turn_start: crm", "llm: redact"}
    console.start_button.click()
    assert console.say_button.disabled is False and console.start_button.disabled
    console.say("Hi, my SSN is on file.")
    assert "last turn:" in console.bar.value and "user_hooks 80" in console.bar.value
    toggles["user_turn_start: crm"].value = False  # switch the CRM hook off between turns
    console.say("What about my order?", interrupt_after_ms=400)
    assert console.audio.value[:4] == b"RIFF"
    console.end()
    turns = console.turns
    assert turns.seg_user_hooks_ms.tolist() == [80.0, 0.0]
    assert turns.interrupted.tolist() == [False, True]
    assert "call ended" in console.status.value and console.start_button.disabled is False
    assert repr(console) == "SessionConsole(agent_id='support', turns=2)"


def test_console_typing_and_buttons_drive_the_call():
    console = al.widgets.SessionConsole(make_runner())
    console.start()
    console._turn_done.clear()
    console.text.value = "Hello there."  # Enter in the browser: the turn is sent
    assert console._turn_done.wait(30) and console.text.value == ""
    assert "Hello there." in console.table.value
    console.say_button.click()  # nothing typed: nothing sent
    assert len(console._rows) == 1
    console.end_button.click()
    assert console.end_button.disabled and len(console.turns) == 1


def experiment():
    def baseline(runner):
        pass

    def crm(runner):
        @runner.pipeline.on("user_turn_start")
        async def lookup(text):
            await asyncio.sleep(0.2)

    return al.Experiment(configs=[baseline, crm], scenarios="agent-ends-call", repeats=2,
                         batch_size=1)


def test_comparator_runs_with_knobs_and_stops():
    cmp = al.widgets.Comparator(experiment())
    assert repr(cmp) == "Comparator(['baseline', 'crm'], repeats=2)"
    cmp.configs.value = ("crm",)
    cmp.llm_scale.value = 2.0
    cmp.run(wait=True)
    assert set(cmp.result.turns.config.astype(str)) == {"crm"}
    assert cmp.progress.value == cmp.progress.max == 2
    assert "crm" in cmp.summary.value and cmp.plot.value[:4] == b"\x89PNG"
    slow = cmp.result.turns.seg_llm_ttft_ms.median()
    cmp.llm_scale.value = 1.0
    cmp.run_button.click()
    cmp._thread.join(60)
    assert cmp.result.turns.seg_llm_ttft_ms.median() < slow
    # stop: the first batch's results are kept
    cmp.configs.value = ("baseline", "crm")
    cmp.repeats.value = 10
    exp = cmp._build()
    exp.batch_size = 1
    rec = exp.run(progress=False, on_batch=lambda d, t: exp.stop() if d == 1 else None)
    assert not rec.complete and rec.calls_done == 1
    with pytest.raises(ValueError, match="pick at least one"):
        cmp.configs.value = ()
        cmp._build()


def test_event_explorer_filters_and_draws():
    rec = al.Recorder()
    async def handle_call(ctx):
        await ctx.session.run()
    runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
    al.simulate_sync(runner, calls=2, seed=1, recorder=rec)
    ex = al.widgets.EventExplorer(rec)
    assert repr(ex) == "EventExplorer(sessions=2)"
    assert ex.timeline.value[:4] == b"\x89PNG"
    total = len(ex.selection())
    ex.turn.value = 1
    assert 0 < len(ex.selection()) < total
    ex.kinds.value = ("user_turn",)
    sel = ex.selection()
    assert len(sel) == 1 and "1 events" in ex.table.value
    ex.session.value = ex.session.options[1]
    assert ex.turn.value == "all" and set(ex.selection().event.astype(str)) == {"user_turn"}


def test_event_explorer_follows_a_recorder_that_is_still_recording():
    rec = al.Recorder()

    async def handle_call(ctx):
        await ctx.session.run()

    runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
    al.simulate_sync(runner, ["Hi there."], seed=1, recorder=rec)
    ex = al.widgets.EventExplorer(rec)
    ex.kinds.value = ("user_turn",)
    before = len(ex.events)
    al.simulate_sync(runner, ["Hello again.", "And once more."], seed=2, recorder=rec)
    ex.reload()  # the next call's events, as a watched call's arrive
    assert len(ex.events) > before and len(ex.session.options) == 2
    assert ex.kinds.value == ("user_turn",)  # the selection is kept
    ex.session.value = ex.session.options[1]
    assert len(ex.selection()) == 2


def test_the_console_switches_to_live_mode_with_a_microphone_and_the_agents_voice():
    pytest.importorskip("faster_whisper", reason="needs the live extra")

    async def handle_call(ctx):
        await ctx.session.run()

    runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
    console = al.widgets.SessionConsole(runner)
    assert console.mic is None and console.typing.layout.display is None
    console.mode.value = "live"
    from agentlab import live

    assert isinstance(console.mic, live.Microphone)
    assert isinstance(console.voice, live.AgentVoice)
    assert console.typing.layout.display == "none"
    with pytest.raises(al.ConfigError, match="live mode the caller speaks"):
        console.say("typed")

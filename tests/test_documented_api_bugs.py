"""Bugs found trying the documented API (issue 15 §5), one test each."""

import asyncio

import pytest

import agentlab as al


async def handle_call(ctx):
    await ctx.session.run()


def test_speech_to_speech_profile_speaks_a_greeting():
    async def greet(ctx):
        await ctx.session.say("Welcome to support.")
        await ctx.session.run()

    rec = al.Recorder()
    sim = al.simulate_sync(al.AgentRunner(entrypoint=greet, pipeline=al.Pipeline()),
                           ["Hi."], profile="speech-to-speech-realtime", recorder=rec)
    assert sim.calls[0].final_state == "ended" and rec.errors.empty
    speech = rec.events[rec.events.event == "agent_speech_start"]
    assert len(speech) == 2  # the greeting, then the reply
    sim = al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                           scenarios="appointment-booking", profile="speech-to-speech-realtime")
    assert sim.calls[0].final_state == "ended"


def test_compare_without_config_labels_says_what_to_do():
    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                     calls=2, recorder=rec)
    with pytest.raises(al.ConfigError, match="no 'config' labels.*al.Experiment"):
        al.analysis.compare(rec.turns, "baseline", "crm_lookup")


def test_unknown_table_is_a_config_error_with_a_suggestion():
    rec = al.Recorder()
    with pytest.raises(al.ConfigError, match="no such event. Did you mean 'user_turn'"):
        rec.table("user_trun")


def test_on_error_gets_an_exception_for_a_tool_failure():
    seen = []

    async def entry(ctx):
        ctx.session.hooks.register(onError=lambda e: seen.append(e.error))
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=entry, pipeline=al.Pipeline()),
                     scenarios="failing-tool", recorder=rec)
    assert seen and all(isinstance(err, BaseException) for err in seen)
    assert isinstance(seen[0], al.ToolError)
    tool_errors = rec.errors[rec.errors.component.astype(str).str.startswith("tool:")]
    assert str(seen[0]) == tool_errors.message.iloc[0]  # the table keeps it readable


def test_a_tool_raising_its_own_timeout_error_fails_the_tool_not_the_call():
    @al.tool
    async def lookup_order(order_id: str = ""):
        raise TimeoutError("warehouse API timed out")

    scenario = al.Scenario.from_dict({
        "id": "own-timeout", "tools": {"lookup_order": {"result": "unused"}}, "turns": [{"user": "Where is order 42?",
                                        "tool_calls": [{"name": "lookup_order"}]}]}, "test")
    rec = al.Recorder()
    sim = al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline(),
                                          tools=[lookup_order]),
                           scenarios=[scenario], recorder=rec)
    assert sim.calls[0].final_state == "ended"
    tool = rec.tools.iloc[0]
    assert tool.status == "error" and "warehouse API timed out" in tool.error


def test_simulation_repr_is_short():
    sim = al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline()),
                           calls=3, seed=4)
    assert repr(sim) == f"Simulation(3 calls (3 ended), {len(sim.events)} events, seed=4)"


def test_console_puts_toggled_hooks_back_after_the_call():
    pipeline = al.Pipeline()

    @pipeline.on("user_turn_start")
    async def crm(text):
        await asyncio.sleep(0.08)

    runner = al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)
    console = al.widgets.SessionConsole(runner, seed=1)
    console.start()
    console.toggles.children[0].value = False
    console.say("Hello.")
    console.end()
    assert [e.enabled for _, entries in pipeline.hook_registry for e in entries] == [True]
    assert console.toggles.children[0].value is True
    sim = al.simulate_sync(runner, ["Hello."])  # the next call runs the hook again
    assert any(e.name == "turn_end" and dict(e.segments)["user_hooks"] == 80.0
               for e in sim.events)

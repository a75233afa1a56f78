"""bodhi's registration objects, background tools, and user-started sub-agents and memory
extraction, firing the framework hooks the document defines."""

import asyncio

import agentlab as al


def _tool_scenario(name):
    return al.Scenario.from_dict({
        "id": "order-lookup", "tools": {name: {"result": "unused stand-in"}}, "turns": [
            {"user": "Where is order 4417?", "agent": "Let me look that up.",
             "tool_calls": [{"name": name, "args": {"order_id": "4417"}}]},
            {"user": "Okay, anything else?", "agent": "Nothing else from me."},
            {"silence_ms": 4000},
            {"user": "Thanks, bye.", "agent": "Goodbye!"}]}, "test")


def test_voice_session_config_and_hooks_manager_register_hooks():
    calls = []
    config = al.VoiceSessionConfig(hooks={"onTurnLatency": lambda e: calls.append("config")},
                                   model="gemini-live")
    manager = al.HooksManager()
    manager.register(onTurnLatency=lambda e: calls.append("manager"))

    async def entry(ctx):
        ctx.session.hooks.register(manager)
        await ctx.session.run()

    runner = al.AgentRunner(entrypoint=entry, hooks=config)
    al.simulate_sync(runner, ["Hello.", "Bye."])
    assert calls.count("config") == 2 and calls.count("manager") == 2
    assert "on_turn_latency" in repr(config) and config.options == {"model": "gemini-live"}


def test_a_background_tool_does_not_hold_the_turn_and_its_result_is_announced():
    execution, results = [], []

    @al.tool(background=True)
    async def lookup_order(order_id: str):
        await asyncio.sleep(3.0)  # a slow warehouse API
        return f"Order {order_id} ships Friday."

    async def entry(ctx):
        ctx.session.hooks.register(onToolCall=lambda e: execution.append(e["execution"]),
                                   onToolResult=lambda e: results.append(e["status"]))
        await ctx.session.run()

    rec = al.Recorder()
    sim = al.simulate_sync(al.AgentRunner(entrypoint=entry, tools=[lookup_order]),
                           scenarios=[_tool_scenario("lookup_order")], recorder=rec)
    assert execution == ["background"] and results == ["completed"]
    tool = rec.tools.iloc[0]
    assert tool.execution == "background" and tool.status == "completed"
    assert tool.duration_ms == 3000
    first = rec.turns.iloc[0]
    assert first.seg_tools_ms == 0 and first.total_e2e_ms < 3000  # the turn did not wait
    assert "Order 4417 ships Friday." in sim.calls[0].spoken  # announced once it landed
    events = rec.events
    said = events[(events.event == "tts_request")
                  & (events.text.astype(str).str.strip() == "Order 4417 ships Friday.")]
    reply_end = events[(events.event == "agent_speech_end") & (events.name == "reply")
                       & (events.turn_id == 1)].t_ms.iloc[0]
    # this result lands while the agent still speaks its turn-1 reply: the announcement
    # waits for the reply to end instead of talking over it
    assert tool.t_result_ms < reply_end
    assert said.t_ms.iloc[0] == reply_end


def test_an_inline_tool_still_holds_the_turn():
    @al.tool
    async def lookup_order(order_id: str):
        await asyncio.sleep(3.0)
        return "ok"

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=lambda_entry, tools=[lookup_order]),
                     scenarios=[_tool_scenario("lookup_order")], recorder=rec)
    assert rec.tools.execution.tolist() == ["inline"]
    assert rec.turns.iloc[0].seg_tools_ms == 3000


async def lambda_entry(ctx):
    await ctx.session.run()


def test_user_code_runs_a_sub_agent_and_a_memory_extraction():
    steps, memory = [], []

    async def entry(ctx):
        ctx.session.hooks.register(onSubagentStep=lambda e: steps.append(e["step_number"]),
                                   onMemoryExtraction=lambda e: memory.append(e))

        @ctx.session.on("user_turn")
        async def on_turn(text):
            if "order" in text:
                await ctx.session.run_subagent("order-notes", steps=3, step_ms=200,
                                               tool_calls=["lookup_order"])
            if "bye" in text.lower():
                await ctx.session.extract_memory(wait=True)

        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=entry),
                     ["My order number is 4417.", "My name is Ana. Bye."], recorder=rec)
    assert steps == [1, 2, 3]
    assert len(memory) == 1 and memory[0]["facts_extracted"] >= 1
    names = rec.events.event.astype(str)
    assert (names == "subagent_step").sum() == 3 and (names == "memory_extraction").sum() == 1

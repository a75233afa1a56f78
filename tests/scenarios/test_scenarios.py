"""Scenario format, bundled scenarios, simulated caller and agent-side features."""

import collections
import json

import pytest

import agentlab as al
from agentlab.scenarios import taskmaster


def runner(pipeline=None, tools=None):
    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=pipeline or al.Pipeline(),
                          tools=tools)


def by_session(sim):
    out = collections.defaultdict(list)
    for e in sim.events:
        out[e.session_id].append(e)
    return out


# -- loader errors name the file, the field and what is expected ------------------------
@pytest.mark.parametrize("text, message", [
    ("id: x\nturns: [{user: hi}\n", r"bad\.yaml: not valid YAML"),
    ("turns: [{user: hi}]\n", r"bad\.yaml: field 'id' must be a non-empty string"),
    ("id: x\nturns: []\n", r"bad\.yaml: field 'turns' must be a non-empty list"),
    ("id: x\nturns: [{user: hi}, {user: yo, barge_in_ms: soon}]\n",
     r"bad\.yaml: field 'turns\[1\]\.barge_in_ms' must be a number >= 0, got 'soon'"),
    ("id: x\nturns: [{usr: hi}]\n", r"bad\.yaml: unknown field 'turns\[0\]\.usr'; allowed"),
    ("id: x\nturns: [{user: hi, tool_calls: [{name: lookup}]}]\n",
     r"field 'turns\[0\]\.tool_calls\[0\]\.name' must be a tool declared under 'tools'"),
    ("id: x\npersona: {barge_in_probability: 2}\nturns: [{user: hi}]\n",
     r"field 'persona\.barge_in_probability' must be a number between 0 and 1, got 2"),
    ("id: x\nturns: [{user: hi, action: explode}]\n",
     r"field 'turns\[0\]\.action' must be one of hangup, end"),
    ("id: x\nturns: [{pause_ms: 10}]\n",
     r"field 'turns\[0\]\.user' must be the caller's words \(or give silence_ms"),
    ("id: x\nexpected: {events: [tool_cal]}\nturns: [{user: hi}]\n",
     r"field 'expected\.events' must be canonical event names .*got 'tool_cal'"),
])
def test_loader_errors_name_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(al.ConfigError, match=message):
        al.datasets.load(path)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(al.ConfigError, match="datasets are scenarios, taskmaster4-coffee"):
        al.datasets.load("no-such-thing")


def test_json_and_yaml_load_the_same(tmp_path):
    data = {"id": "j", "turns": [{"user": "Hello there."}], "expected": {"outcome": "hangup"}}
    (tmp_path / "a.json").write_text(json.dumps(data))
    (tmp_path / "b.yaml").write_text("id: j\nturns: [{user: Hello there.}]\n"
                                     "expected: {outcome: hangup}\n")
    assert al.datasets.load(tmp_path / "a.json") == al.datasets.load(tmp_path / "b.yaml")


# -- the bundled set ------------------------------------------------------------------
def test_every_bundled_scenario_keeps_its_promises():
    scenarios = al.datasets.load("scenarios")
    assert len(scenarios) >= 12
    sim = al.simulate_sync(runner(), scenarios=scenarios, seed=4)
    events = by_session(sim)
    for call, sc in zip(sim.calls, scenarios, strict=True):
        evs = events[call.session_id]
        names = {e.name for e in evs}
        assert call.scenario_id == sc.id
        assert set(sc.expected.events) <= names, (sc.id, set(sc.expected.events) - names)
        if sc.expected.outcome:
            assert evs[-1].name == "session_end" and evs[-1].reason == sc.expected.outcome, \
                sc.id
        if sc.expected.tools is not None:
            assert [e.tool_name for e in evs if e.name == "tool_call"] == \
                list(sc.expected.tools), sc.id
        starts = sum(e.name == "agent_speech_start" for e in evs)
        assert starts == sum(e.name == "agent_speech_end" for e in evs), sc.id


def test_silent_caller_fires_silence_and_ends():
    sim = al.simulate_sync(runner(), scenarios="silent-caller")
    names = [e.name for e in sim.events]
    assert "silence" in names and "user_turn" not in names
    assert sim.events[-1].name == "session_end" and sim.events[-1].reason == "hangup"
    assert sim.events[-1].t_ms > 20_000


def test_barge_in_caller_produces_flagged_interrupted_turns():
    sim = al.simulate_sync(runner(), scenarios="impatient-barge-in", seed=2)
    turns = sim.turns()
    assert turns.interrupted.sum() == 2
    cut = [e for e in sim.events if e.name == "agent_speech_end" and e.interrupted]
    assert len(cut) == 2 and sum(e.name == "interruption" for e in sim.events) == 2


def test_failing_tool_gives_error_and_error_result():
    sim = al.simulate_sync(runner(), scenarios="failing-tool")
    result = next(e for e in sim.events if e.name == "tool_result")
    assert result.status == "error" and "503" in result.error
    assert result.duration_ms == pytest.approx(1200.0)
    err = next(e for e in sim.events if e.name == "error")
    assert err.component == "tool:get_balance" and err.severity == "error"
    assert sim.calls[0].final_state == "ended"  # the call goes on


def test_tool_timeout_is_cancelled_and_reported():
    sim = al.simulate_sync(runner(), scenarios="slow-tool-timeout")
    result = next(e for e in sim.events if e.name == "tool_result")
    assert result.status == "cancelled" and result.duration_ms == pytest.approx(3000.0)
    assert "timed out after 3 s" in result.error


def test_tools_are_their_own_segment_and_still_add_up():
    sim = al.simulate_sync(runner(), scenarios="order-status-tools", seed=1)
    turns = sim.turns()
    assert turns.tools_ms.tolist() == pytest.approx([0.0, 600.0, 0.0])  # 350 + 250 ms
    seg = [c for c in turns.columns if c.endswith("_ms") and c != "total_e2e_ms"]
    assert (turns[seg].sum(axis=1) - turns.total_e2e_ms).abs().max() < 1e-6


def test_real_tools_run_instead_of_the_stand_ins_with_hooks():
    seen = []

    @al.tool
    async def lookup_order(order_id: str, verbose: bool = False) -> dict:
        """Find an order by id.

        More text that is not the description."""
        import asyncio
        await asyncio.sleep(0.05)
        return {"order_id": order_id, "status": "delivered"}

    @al.tool(name="get_tracking")
    async def tracking(order_id: str) -> dict:
        raise RuntimeError("carrier API down")

    assert lookup_order.schema == {
        "name": "lookup_order", "description": "Find an order by id.",
        "parameters": {"type": "object", "required": ["order_id"], "properties": {
            "order_id": {"type": "string"},
            "verbose": {"type": "boolean", "default": False}}}}
    r = runner(tools=[lookup_order, tracking])
    detached = []  # framework hooks run as their own tasks, so they get their own list
    r.hooks.register(on_tool_result=lambda p: detached.append((p.tool_name, p.status)))

    async def entry(ctx):
        @ctx.session.on("tool_call")
        async def log(name, args):
            seen.append((name, args))

        await ctx.session.run()

    r.entrypoint = entry
    sim = al.simulate_sync(r, scenarios="order-status-tools")
    results = [e for e in sim.events if e.name == "tool_result"]
    assert results[0].result == {"order_id": "4417", "status": "delivered"}
    assert results[0].duration_ms == pytest.approx(50.0)
    assert results[1].status == "error" and "carrier API down" in results[1].error
    assert seen == [("lookup_order", {"order_id": "4417"}), ("get_tracking", {"order_id": "4417"})]
    assert detached == [("lookup_order", "completed"), ("get_tracking", "error")]
    with pytest.raises(al.ConfigError, match="needs an async function"):
        al.tool(lambda: None)


def test_flow_can_ask_for_tools():
    @al.tool
    async def weather(city: str) -> str:
        return "sunny"

    def flow(text, context):
        return {"text": "It's sunny.", "tool_calls": [{"name": "weather",
                                                       "args": {"city": "Oslo"}}]}

    async def entry(ctx):
        ctx.session.dialog_machine = al.DialogMachine(flow=flow)
        await ctx.session.run()

    r = al.AgentRunner(entrypoint=entry, pipeline=al.Pipeline(), tools=[weather])
    sim = al.simulate_sync(r, ["What's the weather in Oslo?"])
    assert [(e.name, getattr(e, "result", None)) for e in sim.events
            if e.name.startswith("tool")] == [("tool_call", None), ("tool_result", "sunny")]
    assert [s.strip() for s in sim.calls[0].spoken] == ["It's sunny."]


def test_hand_off_transfers_with_reconnect_and_new_agent_name():
    sim = al.simulate_sync(runner(), scenarios="multi-agent-handoff")
    transfer = next(e for e in sim.events if e.name == "agent_transfer")
    assert (transfer.from_agent, transfer.to_agent) == ("agent", "billing")
    assert transfer.reconnect_ms > 0
    call = next(e for e in sim.events if e.name == "tool_call")
    assert call.agent_name == "billing" and call.seq > transfer.seq


def test_long_call_extracts_memory_and_runs_subagent_with_framework_hooks():
    got = collections.defaultdict(list)
    r = runner()
    r.hooks.register(onMemoryExtraction=lambda p: got["memory"].append(p.facts_extracted),
                     onSubagentStep=lambda p: got["steps"].append(p.step_number))
    sim = al.simulate_sync(r, scenarios="long-call-memory")
    mem = [e for e in sim.events if e.name == "memory_extraction"]
    assert [e.turn_id for e in mem] == [3, 6]  # after turns 3 and 6, in the caller's pause
    assert all(e.duration_ms == pytest.approx(450.0) for e in mem)
    assert got["memory"] == [e.facts_extracted for e in mem] and mem[0].facts_extracted >= 2
    assert got["steps"] == [1, 2, 3]


def test_escalation_ends_the_call_with_the_queue():
    sim = al.simulate_sync(runner(), scenarios="escalation-to-human")
    assert sim.calls[0].reason == "transfer_human"
    assert sim.calls[0].session.data["transfer_queue"] == "billing"
    assert "Hello?" not in [e.text for e in sim.events if e.name == "user_turn"]


def test_follow_up_answers_come_from_persona_rules():
    sim = al.simulate_sync(runner(), scenarios="follow-up-questions", seed=3)
    said = [e.text for e in sim.events if e.name == "user_turn"]
    assert said[1] == "On Elm Street, near number 12."


def test_impatient_caller_hangs_up_on_a_slow_agent():
    sim = al.simulate_sync(runner(), scenarios="caller-hangs-up-mid-call")
    names = [e.name for e in sim.events]
    assert "user_turn" in names and "agent_speech_start" not in names
    assert sim.calls[0].reason == "hangup"
    end = sim.events[-1]
    speech_end = next(e for e in sim.events if e.name == "user_speech_end")
    assert end.t_ms - speech_end.t_ms == pytest.approx(1200.0, abs=1)


def test_repeats_and_profile_precedence():
    sc = al.datasets.load("agent-ends-call")
    sim = al.simulate_sync(runner(), scenarios=[sc, sc], repeats=3, seed=1)
    assert [(c.call_index, c.repeat) for c in sim.calls] == [(i, i % 3) for i in range(6)]
    with pytest.raises(al.ConfigError, match="not both"):
        al.simulate_sync(runner(), ["hi"], scenarios=[sc])


# -- real dialogs ----------------------------------------------------------------------
def test_taskmaster_tool_sequences_match_the_annotations():
    dialogs = al.datasets.load("taskmaster4-coffee")
    assert len(dialogs) == 300
    sim = al.simulate_sync(runner(), scenarios=dialogs, seed=0)
    events = by_session(sim)
    matched = 0
    for call, sc in zip(sim.calls, dialogs, strict=True):
        called = [e.tool_name for e in events[call.session_id] if e.name == "tool_call"]
        matched += called == list(sc.expected.tools)
    share = matched / len(dialogs)
    print(f"\nTaskmaster-4: tool sequence equals the annotation in {matched}/{len(dialogs)} "
          f"dialogs ({share:.1%})")
    assert share >= 0.95


def test_taskmaster_importer_handles_any_dialog_shape():
    dialog = {"conversation_id": "dlg-abcdef12-x", "scenario": "s", "utterances": [
        {"index": 0, "speaker": "assistant", "text": "Hi, what can I get you?"},
        {"index": 1, "speaker": "user", "text": "A latte"},
        {"index": 2, "speaker": "user", "text": "with oat milk."},
        {"index": 3, "speaker": "assistant", "text": "Coming up.", "annotations": [
            {"name": "api_call", "value": "add_item", "context": "api_call_1"},
            {"name": "request", "value": "{not json", "context": "api_call_1"},
            {"name": "api_call", "value": "find_item", "context": "api_call_0"},
            {"name": "request", "value": "{\"q\": \"latte\"}", "context": "api_call_0"},
            {"name": "api_response", "value": "find_item", "context": "api_response_0"},
            {"name": "response", "value": "{\"id\": 7}", "context": "api_response_0"}]}]}
    sc = al.Scenario.from_dict(taskmaster.convert_dialog(dialog))
    assert sc.id == "tm4-abcdef12" and sc.greeting == "Hi, what can I get you?"
    assert [t.user for t in sc.turns] == ["A latte with oat milk."]
    assert [(s.name, s.args, s.result) for s in sc.turns[0].tool_calls] == [
        ("find_item", {"q": "latte"}, {"id": 7}), ("add_item", {"raw": "{not json"}, ...)]
    assert sc.expected.tools == ("find_item", "add_item")
    with pytest.raises(al.ConfigError, match="speaker' must be user or assistant"):
        taskmaster.convert_dialog({"conversation_id": "d", "utterances": [
            {"speaker": "bot", "text": "x"}]})


def test_datasets_list_shows_size_source_and_license():
    table = al.datasets.list()
    assert {"scenarios", "taskmaster4-coffee", "speech-to-speech-realtime"} <= set(table.name)
    assert (table["items"] > 0).all() and (table.size_kb > 0).all()
    assert table.source.str.len().gt(0).all() and table.license.str.len().gt(0).all()
    tm = table.set_index("name").loc["taskmaster4-coffee"]
    assert tm["items"] == 300 and tm.license == "CC-BY-4.0" and "Taskmaster" in tm.source

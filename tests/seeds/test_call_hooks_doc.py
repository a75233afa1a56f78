"""Every example of the runner/session call-hooks document, with only the import changed
(``from unpod import ...`` -> ``import agentlab``) and small async fakes for crm/db/analytics."""

import asyncio
import time

import agentlab as al
from agentlab import AgentRunner, CallContext, DialogMachine


class FakeDB:
    def __init__(self):
        self.calls, self.transcripts, self.summaries = {}, {}, {}

    async def insert_call_record(self, call_id, **kw): self.calls[call_id] = dict(kw)
    async def update_call_record(self, call_id, **kw): self.calls[call_id].update(kw)
    async def create_call(self, call_id, **kw): self.calls[call_id] = dict(kw)
    async def update_call(self, call_id, **kw): self.calls[call_id].update(kw)
    async def save_transcript(self, call_id, transcript): self.transcripts[call_id] = transcript
    async def save_call_summary(self, call_id, **kw): self.summaries[call_id] = kw


class FakeCRM:
    async def get_by_phone(self, number):
        await asyncio.sleep(0.12)  # a real lookup takes time: it must show as a cost
        return {"name": "Ada", "tier": "gold", "open_tickets": 2, "first_name": "Ada"}

    lookup = get_by_phone


flow = {"order": "Your order ships Monday. Anything else?"}
SCRIPT = ["Hi, where is my order?", "Thanks, that is all."]


def pipeline():
    return al.Pipeline(stt=al.sim.STT(), llm=al.sim.LLM(), tts=al.sim.TTS())


def test_runner_and_session_hooks_decorator_style():
    said = []

    async def handle_call(ctx: CallContext) -> None:
        @ctx.session.on("user_turn")
        async def on_user_turn(text: str) -> None:
            said.append(f"User said: {text}")

        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, agent_id="my-agent", pipeline=pipeline())

    @runner.on("call_start")
    async def on_any_call_start(ctx: CallContext) -> None:
        said.append(f"Runner received call: {ctx.call_id}")

    sim = al.simulate_sync(runner, SCRIPT, seed=3)
    assert said == ["Runner received call: call-3-0", "User said: Hi, where is my order?",
                    "User said: Thanks, that is all."]
    assert sim.calls[0].final_state == "ended"


def test_runner_call_records_and_session_call_end_summary():
    db = FakeDB()

    async def handle_call(ctx):
        @ctx.session.on("call_end")
        async def on_call_end(final_state: str) -> None:
            metrics = ctx.session.metrics.live()
            await db.save_call_summary(call_id=ctx.call_id, turns=metrics.turn_count,
                                       final_state=final_state)

        ctx.session.dialog_machine = DialogMachine(flow=flow, llm="...")
        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, agent_id="my-agent", pipeline=pipeline())

    @runner.on("call_start")
    async def log_call_start(ctx: CallContext) -> None:
        await db.insert_call_record(call_id=ctx.call_id, agent_id=ctx.agent_id,
                                    caller=ctx.user_number, direction=ctx.direction)

    @runner.on("call_end")
    async def log_call_end(ctx: CallContext, final_state: str) -> None:
        await db.update_call_record(ctx.call_id, final_state=final_state)

    al.simulate_sync(runner, SCRIPT, calls=2, seed=0)
    assert db.calls["call-0-1"] == {"agent_id": "my-agent", "caller": "+15550000001",
                                    "direction": "inbound", "final_state": "ended"}
    assert db.summaries["call-0-0"] == {"turns": 2, "final_state": "ended"}


def test_call_start_crm_lookup_greets_and_costs_time():
    crm = FakeCRM()

    async def handle_call(ctx):
        @ctx.session.on("call_start")
        async def on_call_start() -> None:
            customer = await crm.lookup(ctx.user_number)
            ctx.session.data["customer"] = customer
            await ctx.session.say(f"Hello {customer['first_name']}, how can I help?")

        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, pipeline=pipeline())
    sim = al.simulate_sync(runner, SCRIPT, seed=0)
    assert sim.calls[0].spoken[0] == "Hello Ada, how can I help?"
    starts = [e for e in sim.events if e.name == "agent_speech_start"]
    assert starts[0].source == "say" and starts[0].t_ms >= 120.0
    assert sim.calls[0].session.data["customer"]["tier"] == "gold"
    # say() is not an agent turn
    assert len([e for e in sim.events if e.name == "agent_turn"]) == 2


def test_multiple_hooks_same_event_and_escalation_transfers():
    order = []

    async def handle_call(ctx):
        @ctx.session.on("user_turn")
        async def log_turn(text: str) -> None:
            order.append("log")

        @ctx.session.on("user_turn")
        async def check_escalation(text: str) -> None:
            order.append("check")
            if "speak to a human" in text.lower():
                await ctx.session.transfer_to_human(queue="support")

        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, pipeline=pipeline())
    sim = al.simulate_sync(runner, ["Hello.", "I want to speak to a human now.", "Hello?"])
    assert order == ["log", "check", "log", "check"]
    end = [e for e in sim.events if e.name == "session_end"][0]
    assert end.reason == "transfer_human" and end.turn_id == 2
    assert sim.calls[0].session.data["transfer_queue"] == "support"


def test_escalation_trigger_says_then_transfers():
    async def handle_call(ctx):
        @ctx.session.on("user_turn")
        async def detect_escalation(text: str) -> None:
            triggers = ["speak to a human", "real person", "your manager", "supervisor"]
            if any(t in text.lower() for t in triggers):
                await ctx.session.say(
                    "Of course, let me transfer you to one of our team members."
                )
                await ctx.session.transfer_to_human(queue="tier-1")

        ctx.session.dialog_machine = DialogMachine(flow=flow, llm="...")
        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, pipeline=pipeline())
    sim = al.simulate_sync(runner, ["Get me your manager."])
    assert sim.calls[0].spoken == ["Of course, let me transfer you to one of our team members."]
    assert sim.calls[0].reason == "transfer_human"
    assert not [e for e in sim.events if e.name == "agent_turn"]


def test_crm_enrichment_assists_the_next_llm_request():
    crm = FakeCRM()
    machines = []

    async def handle_call(ctx):
        @ctx.session.on("call_start")
        async def enrich() -> None:
            account = await crm.get_by_phone(ctx.user_number)
            if account:
                ctx.session.data["account"] = account
                ctx.session.dialog_machine.assist(
                    f"Caller is {account['name']}, a {account['tier']} customer. "
                    f"Their open ticket count is {account['open_tickets']}."
                )

        ctx.session.dialog_machine = DialogMachine(flow=flow, llm="...")
        machines.append(ctx.session.dialog_machine)
        await ctx.session.run()

    al.simulate_sync(AgentRunner(entrypoint=handle_call, pipeline=pipeline()), SCRIPT)
    first, second = machines[0].requests
    assert first[1] == ("Caller is Ada, a gold customer. Their open ticket count is 2.",)
    assert second[1] == ()


def test_full_call_logging_captures_whole_transcript_and_live_metrics():
    db = FakeDB()

    async def handle_call(ctx: CallContext) -> None:
        transcript: list[dict] = []

        @ctx.session.on("user_turn")
        async def capture_user(text: str) -> None:
            transcript.append({"speaker": "user", "text": text})

        @ctx.session.on("agent_turn")
        async def capture_agent(text: str) -> None:
            transcript.append({"speaker": "agent", "text": text})

        @ctx.session.on("call_end")
        async def save_transcript(state: str) -> None:
            await db.save_transcript(ctx.call_id, transcript)

        ctx.session.dialog_machine = DialogMachine(flow=flow, llm="...")
        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, agent_id="my-agent", pipeline=pipeline())

    @runner.on("call_start")
    async def runner_start(ctx: CallContext) -> None:
        await db.create_call(call_id=ctx.call_id, session_id=ctx.session_id,
                             direction=ctx.direction, caller=ctx.user_number,
                             started_at=time.time())

    @runner.on("call_end")
    async def runner_end(ctx: CallContext, final_state: str) -> None:
        m = ctx.session.metrics.live()
        await db.update_call(ctx.call_id, final_state=final_state, turns=m.turn_count,
                             tokens_in=m.tokens_in, tokens_out=m.tokens_out)

    al.simulate_sync(runner, SCRIPT)
    t = db.transcripts["call-0-0"]
    assert [x["speaker"] for x in t] == ["user", "agent", "user", "agent"]
    assert t[0]["text"] == SCRIPT[0] and t[1]["text"] == flow["order"]
    rec = db.calls["call-0-0"]
    assert rec["turns"] == 2 and rec["tokens_in"] > 100 and rec["tokens_out"] > 10


def test_silence_watchdog_asks_then_ends_the_call():
    async def handle_call(ctx: CallContext) -> None:
        last_activity = asyncio.get_event_loop().time()

        @ctx.session.on("user_turn")
        async def on_user_turn(text: str) -> None:
            nonlocal last_activity
            last_activity = asyncio.get_event_loop().time()

        @ctx.session.on("agent_turn")
        async def on_agent_turn(text: str) -> None:
            nonlocal last_activity
            last_activity = asyncio.get_event_loop().time()

        async def silence_watchdog() -> None:
            while True:
                await asyncio.sleep(5)
                idle = asyncio.get_event_loop().time() - last_activity
                if idle > 30:
                    await ctx.session.say("Are you still there?")
                if idle > 60:
                    await ctx.session.end(reason="no_response")
                    break

        ctx.session.dialog_machine = DialogMachine(flow=flow, llm="...")
        await asyncio.gather(
            ctx.session.run(),
            silence_watchdog(),
        )

    runner = AgentRunner(entrypoint=handle_call, pipeline=pipeline())
    t0 = time.perf_counter()
    sim = al.simulate_sync(runner, ["Hello.", {"text": "Sorry, I was away.", "pause_ms": 600_000}])
    assert time.perf_counter() - t0 < 5  # ten virtual minutes, no real waiting
    call = sim.calls[0]
    assert "Are you still there?" in call.spoken
    assert call.reason == "no_response"
    end = [e for e in sim.events if e.name == "session_end"][0]
    assert 60_000 < end.t_ms < 80_000
    assert [e.name for e in sim.events].count("silence") == 1
    assert not [e for e in sim.events if e.name == "error"]

"""The unpod document's programs, with only the import changed (``from unpod import`` ->
``from agentlab import``), run and do what the document says. Each example is laid out as
the document shows it, except that ``handle_call`` is defined before the runner that names
it (the document's order raises NameError in any Python)."""

import time

import agentlab as al
from agentlab import AgentRunner, CallContext, DialogMachine


class FakeDB:
    """Stands in for the document's ``db``: records what the hooks wrote."""

    def __init__(self):
        self.calls, self.transcripts = {}, {}

    async def create_call(self, call_id, **fields):
        self.calls[call_id] = dict(fields)

    async def update_call(self, call_id, **fields):
        self.calls[call_id].update(fields)

    async def save_transcript(self, call_id, transcript):
        self.transcripts[call_id] = list(transcript)


def test_the_first_example_runs_without_a_pipeline(capsys):
    async def handle_call(ctx: CallContext) -> None:
        # Session-level hook - registered inside the entrypoint
        @ctx.session.on("user_turn")
        async def on_user_turn(text: str) -> None:
            print(f"User said: {text}")

        await ctx.session.run()

    runner = AgentRunner(entrypoint=handle_call, agent_id="my-agent")

    # Runner-level hook
    @runner.on("call_start")
    async def on_any_call_start(ctx: CallContext) -> None:
        print(f"Runner received call: {ctx.call_id}")

    rec = al.Recorder()
    sim = al.simulate_sync(runner, scenarios="order-status-tools", recorder=rec)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Runner received call: {sim.calls[0].session.bus.context.call_id}"
    said = [line.removeprefix("User said: ") for line in out[1:]]
    assert said == rec.turns.user_text.tolist() and len(said) >= 2
    assert rec.sessions.agent_id.astype(str).tolist() == ["my-agent"]


def test_full_call_logging_records_what_the_document_says():
    db = FakeDB()
    flow = {"order": "Sure, what's the order number?"}

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

    runner = AgentRunner(entrypoint=handle_call, agent_id="my-agent")

    @runner.on("call_start")
    async def runner_start(ctx: CallContext) -> None:
        await db.create_call(
            call_id=ctx.call_id,
            session_id=ctx.session_id,
            direction=ctx.direction,
            caller=ctx.user_number,
            started_at=time.time(),
        )

    @runner.on("call_end")
    async def runner_end(ctx: CallContext, final_state: str) -> None:
        m = ctx.session.metrics.live()
        await db.update_call(
            ctx.call_id,
            final_state=final_state,
            turns=m.turn_count,
            tokens_in=m.tokens_in,
            tokens_out=m.tokens_out,
        )

    rec = al.Recorder()
    al.simulate_sync(runner, ["Where is my order?", "Thanks, bye."], calls=2, recorder=rec)
    assert len(db.calls) == 2
    for call_id, row in db.calls.items():
        assert row["final_state"] == "ended" and row["direction"] == "inbound"
        assert row["turns"] == 2 and row["tokens_out"] > 0
        lines = db.transcripts[call_id]
        assert [x["speaker"] for x in lines] == ["user", "agent", "user", "agent"]
        assert lines[1]["text"] == "Sure, what's the order number?"  # the flow answered
    usage = rec.usage.set_index("session_id")
    assert sorted(usage.tokens_out) == sorted(r["tokens_out"] for r in db.calls.values())


def test_the_escalation_trigger_transfers_to_the_human_queue():
    flow = {}

    async def handle_call(ctx: CallContext) -> None:
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

    runner = AgentRunner(entrypoint=handle_call, agent_id="my-agent")
    rec = al.Recorder()
    sim = al.simulate_sync(runner, ["My parcel is late.", "I want to speak to a human now."],
                           recorder=rec)
    call = sim.calls[0]
    assert call.reason == "transfer_human"
    assert call.session.data["transfer_queue"] == "tier-1"
    assert "Of course, let me transfer you to one of our team members." in call.spoken[-1]
    assert rec.sessions.reason.astype(str).tolist() == ["transfer_human"]

"""``python -m agentlab demo``: a short scripted call through the hook engine.

Registers hooks from all three vocabularies (runner/session call hooks, pipeline stream and
lifecycle hooks, framework observability hooks), plays two scripted turns, and prints every
hook call in the order it fired, with what each hook changed.
"""

from __future__ import annotations

import asyncio
import re

import agentlab as al
from agentlab.testing import ScriptedCall


def build() -> tuple[al.AgentRunner, al.Session, list[str]]:
    """The demo's runner, session and log of what the hooks saw."""
    log: list[str] = []
    pipeline = al.Pipeline()

    @pipeline.on("stt")
    async def stt_hook(audio_stream):
        async for event in al.run_stt(audio_stream):
            text = re.sub(r"\b(uh|um|like)\b", "", event.data.text.lower())
            event.data.text = " ".join(text.split())
            yield event

    @pipeline.on("llm")
    async def redact(data):
        return data["text"].replace("SSN", "[REDACTED]")

    @pipeline.on("tts")
    async def tts_hook(text_stream):
        async def preprocess():
            async for text in text_stream:
                yield text.replace("AM", "A M").replace("PM", "P M")

        async for audio in al.run_tts(preprocess()):
            yield audio

    @pipeline.on("agent_turn_start")
    async def on_agent_start():
        log.append("agent started speaking")

    async def handle_call(ctx):  # pragma: no cover - the simulator calls it (issue 3)
        await ctx.session.run()

    runner = al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)

    @runner.on("call_start")
    async def runner_start(ctx):
        log.append(f"runner call_start {ctx.call_id}")

    session = al.Session(session_id="demo-1", pipeline=pipeline)

    @session.on("user_turn")
    async def on_user_turn(text):
        log.append(f"user_turn: {text!r}")

    @session.on("agent_turn")
    async def on_agent_turn(text):
        log.append(f"agent_turn: {text!r}")

    session.hooks.register(
        onTurnLatency=lambda e: log.append(
            f"onTurnLatency turn {e.turnId}: {e.segments.totalE2EMs:.0f} ms"),
        on_session_end=lambda e: log.append(f"on_session_end reason={e.reason}"),
    )
    return runner, session, log


async def main() -> int:
    runner, session, log = build()
    call = ScriptedCall(session, runner=runner)
    await call.play([
        ("um I want to check my uh order", "Your order ships Monday at 9 AM."),
        ("my SSN is on file", "I see your SSN on file; the refund posts at 5 PM."),
    ])
    print("hook calls, in firing order:")
    for e in call.events:
        if e.name == "hook_call":
            print(f"  t={e.t_ms:7.1f} ms  turn {e.turn_id}  {e.scope:9s} {e.hook:16s} "
                  f"{e.handler.rsplit('.', 1)[-1]:16s} {e.wall_ns / 1e3:7.1f} us")
    print("\nwhat the hooks saw:")
    for line in log:
        print("  " + line)
    print("\nwhat TTS was asked to speak:")
    for text in call.spoken:
        print("  " + text)
    kinds: dict[str, int] = {}
    for e in call.events:
        kinds[e.name] = kinds.get(e.name, 0) + 1
    print(f"\n{len(call.events)} canonical events: "
          + ", ".join(f"{k}={v}" for k, v in kinds.items()))
    return 0


def simulated_batch(calls: int = 200, seed: int = 0) -> int:
    """Simulate a batch of calls with and without an ``llm`` redaction hook and print a
    per-turn latency summary (p50/p95 of each segment)."""
    import time

    reply = ("Thanks for calling. Your SSN on file ends in 1234. "
             "Is there anything else I can help you with today?")

    def runner(with_llm_hook: bool) -> al.AgentRunner:
        pipeline = al.Pipeline(stt=al.sim.STT(), llm=al.sim.LLM(replies=(reply,)),
                               tts=al.sim.TTS())
        if with_llm_hook:
            @pipeline.on("llm")
            async def redact(data):
                return data["text"].replace("SSN", "[REDACTED]")

        async def handle_call(ctx):
            @ctx.session.on("user_turn")
            async def crm_lookup(text):  # a blocking CRM lookup on every turn
                await asyncio.sleep(0.08)

            await ctx.session.run()

        return al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)

    print(f"\nsimulated batch: {calls} calls x 3 turns, profile deepgram-gpt4o-cartesia-webrtc")
    for label, hook in (("crm hook", False), ("crm hook + llm redaction", True)):
        t0 = time.perf_counter()
        sim = al.simulate_sync(runner(hook), calls=calls, seed=seed)
        wall = time.perf_counter() - t0
        turns = sim.turns()
        cols = [c for c in turns.columns if c.endswith("_ms")]
        summary = turns[cols].quantile([0.5, 0.95]).T.round(0)
        summary.columns = ["p50", "p95"]
        virtual_s = sum(e.duration_ms for e in sim.events if e.name == "session_end") / 1e3
        print(f"\n[{label}] {len(turns)} turns, {calls / wall:,.0f} calls/s, "
              f"{virtual_s / wall:,.0f}x real time")
        print(summary.to_string())
    return 0


def run() -> int:
    code = asyncio.run(main())
    return code or simulated_batch()

"""``python -m agentlab demo`` (``make demo``): what the hooks do, then what they cost.

First a scripted call registers hooks from all three vocabularies (runner/session call
hooks, pipeline stream and lifecycle hooks, framework observability hooks) and prints
every hook call in the order it fired, with what each hook changed. Then an experiment
runs the bundled scenarios under three configurations (no hooks; a blocking CRM lookup;
plus an llm redaction hook that forces full-response buffering), prints the per-segment
comparison and writes a report (CSV, PNG, HTML) to ``out/``.
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


REPLY_WITH_SSN = ("Thanks for calling. Your SSN on file ends in 1234. "
                  "Is there anything else I can help you with today?")


def baseline(runner: al.AgentRunner) -> None:
    """No hooks: the pipeline as shipped."""


def crm_lookup(runner: al.AgentRunner) -> None:
    """A blocking CRM lookup on every user turn (80 ms): the user_hooks segment."""

    @runner.pipeline.on("user_turn_start")
    async def lookup(transcript):
        await asyncio.sleep(0.08)


def llm_redaction(runner: al.AgentRunner) -> None:
    """The CRM lookup plus an llm redaction hook, which forces waiting for the full
    response before TTS: the llm_rest segment grows."""
    crm_lookup(runner)

    @runner.pipeline.on("llm")
    async def redact(data):
        return data["text"].replace("SSN", "[REDACTED]")


CONFIGS = {"baseline": baseline, "crm_lookup": crm_lookup, "llm_redaction": llm_redaction}


def experiment(out: str = "out", repeats: int = 3, seed: int = 0) -> int:
    """The bundled scenarios under three hook configurations: print the comparison and
    write the report to ``out/``."""
    import time

    from .cli import print_comparison
    from .report import write

    exp = al.Experiment(configs=CONFIGS, scenarios="scenarios", repeats=repeats, seed=seed)
    print(f"\nexperiment: {exp}")
    t0 = time.perf_counter()
    rec = exp.run(progress=False, run_id="demo")
    wall = time.perf_counter() - t0
    calls = len(rec.sessions)
    print(f"{calls} simulated calls in {wall:.1f} s ({calls / wall:,.0f} calls/s)\n")
    print_comparison(rec, "baseline")
    for candidate in [name for name in CONFIGS if name != "baseline"]:
        cmp = al.analysis.compare(rec.turns, "baseline", candidate).set_index("metric")
        print(f"\n{candidate} vs baseline, mean difference per turn [95% CI]:")
        for m in ("seg_user_hooks_ms", "seg_llm_rest_ms", "seg_llm_hooks_ms",
                  "total_e2e_ms"):
            r = cmp.loc[m]
            print(f"  {m.removeprefix('seg_'):16s} {r.mean_diff:+7.0f} ms "
                  f"[{r.mean_diff_lo:+.0f}, {r.mean_diff_hi:+.0f}]")
    folder = write(rec, out, baseline="baseline", title="agentlab demo: hook costs")
    print(f"\nreport: {folder / 'index.html'}")
    return 0


def run(out: str = "out", repeats: int = 3) -> int:
    code = asyncio.run(main())
    return code or experiment(out, repeats)

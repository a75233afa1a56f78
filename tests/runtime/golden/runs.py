"""The runs whose recorder tables must not change when the engine does (issue 19).

Three sets, each run with the recorder on: every bundled scenario and the Taskmaster
set, hook-free and with a mix of hooks of every kind; and 24 hook configurations drawn
at random (a fixed seed) from the ingredients below, over the bundled scenarios. Each
table is reduced to a digest of its rows with the wall times (``wall_ms``, a
measurement) left out. ``make_golden.py`` writes ``golden.json`` from the code as it is;
``tests/runtime/test_golden_tables.py`` holds the code to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

import agentlab as al
from agentlab.hooks import run_stt, run_tts

TABLES = ("events", "turns", "segments", "tools", "hooks", "errors", "sessions", "usage")
MEASURED = ("wall_ms", "run_id")  # a measurement; a per-process counter


def _user_turn_start(runner):
    @runner.pipeline.on("user_turn_start")
    async def crm(transcript):
        await asyncio.sleep(0.03)


def _llm_chain(runner):
    @runner.pipeline.on("llm")
    async def shout(data):
        return data["text"].replace("order", "ORDER")


def _tts_slot(runner):
    @runner.pipeline.on("tts")
    async def tts(text_stream):
        async for pcm in run_tts(text_stream):
            yield pcm


def _stt_slot(runner):
    @runner.pipeline.on("stt")
    async def stt(audio_stream):
        async for event in run_stt(audio_stream):
            event.data.text = event.data.text.lower()
            yield event


def _agent_turn_start(runner):
    @runner.pipeline.on("agent_turn_start")
    async def started():
        pass


def _agent_turn_end(runner):
    @runner.pipeline.on("agent_turn_end")
    async def ended():
        await asyncio.sleep(0.01)


def _session_user_turn(runner):
    @runner.session_hooks.on("user_turn")
    async def heard(text):
        await asyncio.sleep(0.005)


def _session_tools(runner):
    @runner.session_hooks.on("tool_result")
    async def result(name, result, status, duration_ms):
        pass

    @runner.session_hooks.on("interruption")
    async def barged():
        pass


def _framework_sync(runner):
    runner.hooks.register(onTurnLatency=lambda payload: payload.segments)


def _framework_async(runner):
    async def on_tool_call(event):
        await asyncio.sleep(0.002)

    runner.hooks.register(on_tool_call=on_tool_call)


def _runner_hooks(runner):
    @runner.on("call_start")
    async def start(ctx):
        pass

    @runner.on("call_end")
    async def end(ctx, final_state):
        pass


INGREDIENTS = {f.__name__.lstrip("_"): f for f in (
    _user_turn_start, _llm_chain, _tts_slot, _stt_slot, _agent_turn_start, _agent_turn_end,
    _session_user_turn, _session_tools, _framework_sync, _framework_async, _runner_hooks)}


def configure(names: tuple[str, ...]):
    def config(runner):
        for name in names:
            INGREDIENTS[name](runner)

    return config


def generated_configs(n: int = 24, seed: int = 19) -> dict[str, tuple[str, ...]]:
    rng = random.Random(seed)
    keys = sorted(INGREDIENTS)
    return {f"g{i}": tuple(sorted(rng.sample(keys, rng.randint(0, 4)))) for i in range(n)}


def runs() -> dict[str, al.Recorder]:
    """Every golden run, by name."""
    every = tuple(sorted(INGREDIENTS))
    out = {}
    for scenarios in ("scenarios", "taskmaster4-coffee"):
        out[scenarios] = al.Experiment(
            configs={"none": configure(()), "all": configure(every)},
            scenarios=scenarios, repeats=1, seed=7).run(progress=False)
    out["generated"] = al.Experiment(
        configs={k: configure(v) for k, v in generated_configs().items()},
        scenarios="scenarios", repeats=1, seed=11).run(progress=False)
    return out


def digests(rec: al.Recorder) -> dict[str, str]:
    """A digest per table (rows in order, measured columns left out) and its row count."""
    out = {}
    for name in TABLES:
        df = getattr(rec, name)
        df = df.drop(columns=[c for c in MEASURED if c in df.columns])
        text = df.to_csv(index=False, float_format="%.6f")
        out[name] = f"{len(df)}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    return out

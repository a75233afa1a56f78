"""Recorder benchmark: ingest of 10^6 canonical events (recorder alone, as the bus hands
them over: rows), building the tables from them, peak extra memory, the same events as
objects (``rec(event)``), and simulated 20-turn calls with the recorder on.

Run with ``make bench`` (or ``.venv/bin/python bench/bench_recorder.py``). The peer is
the naive approach REFERENCE §4 measured: a list of dicts turned into a DataFrame, timed
in the same run. Writes ``bench/results/recorder.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd

import agentlab as al
from agentlab import events as ev

RESULTS = Path(__file__).parent / "results" / "recorder.json"
N = 1_000_000


def make_events(n: int) -> list[ev.Event]:
    out = []
    for i in range(n):
        k = i % 4
        turn = i // 40
        if k == 0:
            out.append(ev.SttPartial(f"s-{i // 4000}", turn, i, float(i), "some words here"))
        elif k == 1:
            out.append(ev.HookCall(f"s-{i // 4000}", turn, i, float(i), "user_turn",
                                   "session", "crm", 80.0, 1500, True))
        elif k == 2:
            out.append(ev.LlmResponse(f"s-{i // 4000}", turn, i, float(i), "Sure.", 90, 4))
        else:
            out.append(ev.TurnEnd(f"s-{i // 4000}", turn, i, float(i), 900.0,
                                   (("vad", 200.0), ("stt", 700.0)), False))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=N)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    events = make_events(args.events)
    rows = [ev.row_of(e) for e in events]
    gc.collect()
    base = rss_mb()

    rec = al.Recorder()
    t0 = time.perf_counter()
    for row in rows:  # as the bus hands them over: rows, no event objects
        rec.take(row)
    rec.flush()
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    tables = {name: getattr(rec, name) for name in ("events", "turns", "segments", "hooks")}
    build = time.perf_counter() - t0
    peak = rss_mb() - base
    assert len(tables["events"]) == args.events

    by_object = al.Recorder()  # a user's own observer handing event objects over
    t0 = time.perf_counter()
    for e in events:
        by_object(e)
    by_object.flush()
    object_rate = args.events / (time.perf_counter() - t0)
    del by_object

    t0 = time.perf_counter()
    naive = pd.DataFrame([{"event": e.name, **{f: getattr(e, f) for f in e.__slots__}}
                          for e in events])
    naive_s = time.perf_counter() - t0
    del naive

    async def handle_call(ctx):
        await ctx.session.run()

    runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
    script = [f"This is caller turn {i} about my order status today." for i in range(20)]
    t0 = time.perf_counter()
    al.simulate_sync(runner, script, calls=args.calls, recorder=al.Recorder())
    with_rec = args.calls / (time.perf_counter() - t0)

    rate = args.events / ingest
    print(f"ingest {rate / 1e6:.2f} M events/s (target >= 1)   tables {build:.2f} s "
          f"(target <= 1.5)   peak extra memory {peak:.0f} MB (target <= 250)")
    print(f"event objects handed to the recorder (rec(event)): {object_rate / 1e6:.2f} M "
          f"events/s")
    print(f"naive list-of-dicts -> DataFrame {naive_s:.2f} s: recorder ingest+tables is "
          f"{naive_s / (ingest + build):.1f}x faster")
    print(f"simulated 20-turn calls with the recorder: {with_rec:.0f} calls/s (target >= 1000)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "python": sys.version.split()[0], "events": args.events,
        "ingest_events_per_s": round(rate), "object_ingest_events_per_s": round(object_rate),
        "tables_s": round(build, 3),
        "peak_extra_mb": round(peak), "naive_dataframe_s": round(naive_s, 3),
        "sim_calls_per_s_with_recorder": round(with_rec)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

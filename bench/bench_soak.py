"""Soak: 10,000 simulated calls with the recorder on and a mix of failing, hanging and slow
hooks. Every call must end, the recorder must hold exactly the events the simulation made,
and peak memory is stated (ARCHITECTURE §5: no call hangs a run, nothing is lost).

Run with ``make bench`` (or ``.venv/bin/python bench/bench_soak.py [--calls N]``). The same
calls run once with no hooks in the same process; the ratio of the two rates is the price
of the hostile hooks. Writes ``bench/results/soak.json``. Compare ratios, not times.

Per call (chosen by call number, so every run is the same): one in 10 has a pipeline hook
that raises, one in 50 an awaited hook that never returns (a deadlock, ended as timeout),
one in 20 a session hook that sleeps past the call limit, every call a fire-and-forget
handler that raises on each turn and one that outlives the session (cut and recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

import agentlab as al

RESULTS = Path(__file__).parent / "results" / "soak.json"
MAX_CALL_S = 60.0


def hostile_runner() -> al.AgentRunner:
    pipeline = al.Pipeline()

    async def entry(ctx):
        n = int(ctx.call_id.rsplit("-", 1)[1])
        if n % 10 == 3:
            @ctx.session.on("user_turn")
            async def crm(text):
                raise ConnectionError("CRM down")
        if n % 50 == 7:
            @ctx.session.on("user_turn")
            async def stuck(text):
                await asyncio.Event().wait()
        if n % 20 == 11:
            @ctx.session.on("user_turn")
            async def slow(text):
                await asyncio.sleep(2 * MAX_CALL_S)

        def metrics_sink(metrics):
            raise ValueError("metrics sink down")

        async def exporter(metrics):
            await asyncio.sleep(3600)

        ctx.session.hooks.register(onTurnLatency=metrics_sink)
        ctx.session.hooks.register(onSessionEnd=exporter)
        await ctx.session.run()

    return al.AgentRunner(entrypoint=entry, pipeline=pipeline)


def plain_runner() -> al.AgentRunner:
    async def entry(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=entry, pipeline=al.Pipeline())


def timed(runner: al.AgentRunner, calls: int) -> tuple[float, al.Recorder, object]:
    rec = al.Recorder()
    t0 = time.perf_counter()
    sim = al.simulate_sync(runner, scenarios="scenarios", repeats=-(-calls // 14),
                           recorder=rec, max_call_s=MAX_CALL_S)
    return time.perf_counter() - t0, rec, sim


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    hostile_s, rec, sim = timed(hostile_runner(), args.calls)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this run's peak
    plain_s = timed(plain_runner(), args.calls)[0]
    n = len(sim.calls)
    sessions = rec.sessions
    ended = int(sessions.final_state.notna().sum())
    reasons = sessions.reason.astype(str).value_counts().to_dict()
    counted, published = rec.statistics()["events"], len(sim.events)
    errors = rec.errors.component.astype(str).value_counts().to_dict()
    ok = ended == n and counted == published == len(rec.events)
    print(f"{n:,} calls with hostile hooks in {hostile_s:.1f} s ({n / hostile_s:,.0f} calls/s;"
          f" no hooks {n / plain_s:,.0f} calls/s, ratio {plain_s / hostile_s:.2f})")
    print(f"ended {ended:,} of {n:,} (reasons {reasons}); recorder {counted:,} events, "
          f"simulation {published:,}: {'equal' if counted == published else 'DIFFERENT'}")
    print(f"error rows by component: {errors}")
    print(f"peak memory (max RSS) {peak_mb:,.0f} MB; {'PASS' if ok else 'FAIL'}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "python": sys.version.split()[0], "calls": n, "hostile_s": round(hostile_s, 2),
        "plain_s": round(plain_s, 2), "ended": ended, "events_recorded": counted,
        "events_published": published, "reasons": reasons, "errors": errors,
        "peak_rss_mb": round(peak_mb), "pass": ok}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

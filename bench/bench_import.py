"""Import benchmark: ``al.io.read`` on 10^6 spans, time and peak memory, each format in a
subprocess of its own (peak RSS is the child's), against the floor of reading the same
file: ``json.loads`` of every line, timed in the same run.

The spans are made by the exporters themselves and then replicated with new trace and
session ids: agentlab's ``rec.to_otel`` on simulated calls of the bundled scenarios, and
Pipecat's real trace (tests/data/traces/pipecat.otlp.jsonl, Pipecat's own tracing). Run
with ``make bench`` (or ``.venv/bin/python bench/bench_import.py``). Targets (issue 20): at
most 10 s and 1 GB peak for 10^6 spans. Writes ``bench/results/import.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "import.json"
PIPECAT = HERE.parent / "tests" / "data" / "traces" / "pipecat.otlp.jsonl"


def spans_in(line: str) -> int:
    request = json.loads(line)
    return sum(len(scope["spans"]) for rs in request["resourceSpans"]
               for scope in rs["scopeSpans"])


def replicate(lines: list[tuple[str, str]], target: int, out: Path) -> int:
    """Write copies of ``(line, call id)`` with fresh trace and call ids until ``target``
    spans; the number written."""
    written, k = 0, 0
    with out.open("w") as f:
        while written < target:
            for line, call_id in lines:
                request = json.loads(line)
                trace_id = f"{k:032x}"
                for rs in request["resourceSpans"]:
                    for scope in rs["scopeSpans"]:
                        for span in scope["spans"]:
                            span["traceId"] = trace_id
                            written += 1
                text = json.dumps(request, separators=(",", ":"))
                f.write(text.replace(f'"{call_id}"', f'"{call_id}~{k}"') + "\n")
                k += 1
                if written >= target:
                    break
    return written


def agentlab_lines(tmp: Path) -> list[tuple[str, str]]:
    import agentlab as al

    async def handle_call(ctx):
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call), scenarios="scenarios",
                     repeats=4, seed=1, recorder=rec)
    path = rec.to_otel(tmp / "chunk.jsonl") and tmp / "chunk.jsonl"
    out = []
    for line in path.read_text().splitlines():
        request = json.loads(line)
        root = next(s for rs in request["resourceSpans"] for sc in rs["scopeSpans"]
                    for s in sc["spans"] if s["name"] == "conversation")
        sid = next(a["value"]["stringValue"] for a in root["attributes"]
                   if a["key"] == "agentlab.session_id")
        out.append((line, sid))
    return out


def pipecat_lines() -> list[tuple[str, str]]:
    return [(line, "fixture-1") for line in PIPECAT.read_text().splitlines()]


CHILD = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
path, what = sys.argv[1], sys.argv[2]
tables_s = 0.0
if what in ("json", "orjson"):
    loads = __import__(what).loads
    t0 = time.perf_counter()
    with open(path) as f:
        rows = sum(1 for line in f if loads(line))
    s = time.perf_counter() - t0
else:
    import agentlab as al
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    rec = al.io.read(path)
    s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = len(rec.turns)
    tables_s = time.perf_counter() - t0
print(json.dumps({"s": s, "tables_s": tables_s, "rows": rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(path: Path, what: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), what], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    args = parser.parse_args()
    results = {"python": sys.version.split()[0], "spans": args.spans}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, lines in (("agentlab", agentlab_lines(tmp)), ("pipecat", pipecat_lines())):
            path = tmp / f"{name}.jsonl"
            spans = replicate(lines, args.spans, path)
            floor, fast = measure(path, "json"), measure(path, "orjson")
            read = measure(path, "read")
            size = path.stat().st_size / 2**20
            total = read["s"] + read["tables_s"]
            print(f"{name}: {spans:,} spans ({size:.0f} MB) read in {read['s']:.1f} s + "
                  f"turns table {read['tables_s']:.1f} s = {total:.1f} s (target <= 10), "
                  f"peak {read['peak_mb']:.0f} MB (target <= 1024), {read['rows']:,} turns")
            print(f"  parsing the lines alone: json.loads {floor['s']:.1f} s, orjson.loads "
                  f"{fast['s']:.1f} s; read + table = {total / floor['s']:.1f}x json.loads")
            results[name] = {"spans": spans, "file_mb": round(size), "read_s": round(
                read["s"], 2), "tables_s": round(read["tables_s"], 2),
                "peak_mb": round(read["peak_mb"]), "turns": read["rows"],
                "json_loads_s": round(floor["s"], 2), "orjson_loads_s": round(fast["s"], 2)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

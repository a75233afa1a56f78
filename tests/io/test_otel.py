"""Recordings out as OpenTelemetry traces and back in (issue 20, part 3; agentlab's own
OTLP/JSON only: reading Pipecat's and LiveKit's traces is not built yet)."""

import asyncio
import http.server
import itertools
import json
import threading

import pandas as pd
import pytest

import agentlab as al

TABLES = ("events", "turns", "segments", "tools", "hooks", "errors", "sessions", "usage")


def _recorded():
    async def entry(ctx):
        @ctx.session.on("user_turn")
        async def crm(text):
            await asyncio.sleep(0.02)

        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=entry), scenarios="scenarios", recorder=rec,
                     seed=3)
    return rec


@pytest.fixture(scope="module")
def rec():
    return _recorded()


def _same(a, b):
    a = a.drop(columns="run_id").reset_index(drop=True)
    b = b.drop(columns="run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_categorical=False)


def test_export_then_import_gives_the_same_tables(rec, tmp_path):
    path = tmp_path / "calls.jsonl"
    rec.to_otel(path, capture_content=True)
    back = al.io.read(path)
    assert len(rec.hooks) > 0 and len(rec.tools) > 0  # the run has what is compared
    for name in TABLES:
        _same(getattr(rec, name), getattr(back, name))


def test_the_trace_follows_the_conventions(rec):
    spans = rec.to_otel()
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    conversations = by_name["conversation"]
    assert len(conversations) == len(rec.sessions)
    turns = rec.turns.dropna(subset=["total_e2e_ms"])
    turn_spans = [s for s in by_name["turn"] if "turn.user_bot_latency_seconds" in s.attributes]
    assert len(turn_spans) == len(turns)
    latencies = sorted(s.attributes["turn.user_bot_latency_seconds"] for s in turn_spans)
    assert latencies == pytest.approx(sorted(turns.total_e2e_ms / 1000.0))
    llm = by_name["llm"][0].attributes
    assert llm["gen_ai.operation.name"] == "chat" and llm["gen_ai.usage.output_tokens"] > 0
    tool = next(s for name, ss in by_name.items() if name.startswith("execute_tool ")
                for s in ss)
    assert tool.attributes["gen_ai.tool.name"] == tool.name.split(" ", 1)[1]
    # a turn's segment spans are consecutive and add up to the turn's total
    one = turn_spans[0]
    segs = sorted((s for s in spans if s.parent is not None
                   and s.parent.span_id == one.context.span_id
                   and s.name.startswith("agentlab.")), key=lambda s: s.start_time)
    assert all(a.end_time == b.start_time for a, b in itertools.pairwise(segs))
    assert (segs[-1].end_time - segs[0].start_time) / 1e9 == pytest.approx(
        one.attributes["turn.user_bot_latency_seconds"], abs=1e-6)
    assert len(by_name["hook user_turn"]) == len(rec.hooks)


def test_content_is_left_out_unless_asked_for(rec, tmp_path):
    path = tmp_path / "calls.jsonl"
    rec.to_otel(path)
    text = path.read_text()
    said = [t for t in rec.turns.user_text.dropna() if len(t) > 8]
    assert said and not any(t in text for t in said)
    values = [v for a in rec.tools.args.dropna()
              for v in (json.loads(a) if isinstance(a, str) else a).values()
              if isinstance(v, str) and v.isalpha()]  # words only a tool's args hold
    assert values and not any(f'"{v}"' in text or f'\\"{v}\\"' in text for v in values)
    assert "gen_ai.tool.call.arguments" not in text
    back = al.io.read(path)
    _same(rec.segments, back.segments)
    assert (back.turns.user_text == "").all()


def test_a_users_exporter_sends_to_a_collector_over_otlp_http(rec):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/v1/traces"
        spans = rec.to_otel(exporter=OTLPSpanExporter(endpoint=endpoint))
    finally:
        server.shutdown()
        server.server_close()
    assert received and all(path == "/v1/traces" for path, _ in received)
    n = 0
    for _, body in received:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        n += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    assert n == len(spans)


def test_a_truncated_file_names_the_line_and_keeps_what_was_read(rec, tmp_path):
    path = tmp_path / "calls.jsonl"
    rec.to_otel(path, capture_content=True)
    lines = path.read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2] + "\n")
    with pytest.raises(al.io.TraceReadError) as err:
        al.io.read(cut)
    assert "cut.jsonl:4" in str(err.value) and "truncated" in str(err.value)
    assert len(err.value.recorder.session_ids()) == 3
    assert len(err.value.recorder.sessions) == 3


def test_unknown_attributes_are_ignored_with_a_count(rec, tmp_path):
    path = tmp_path / "calls.jsonl"
    rec.to_otel(path, capture_content=True)
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    spans = first["resourceSpans"][0]["scopeSpans"][0]["spans"]
    root = next(s for s in spans if s["name"] == "conversation")
    for event in root["events"][:5]:
        event["attributes"].append({"key": "vendor.extra", "value": {"stringValue": "x"}})
    lines[0] = json.dumps(first)
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(al.AgentlabWarning, match=r"ignored 5 attributes.*vendor\.extra \(5\)"):
        back = al.io.read(path)
    _same(rec.turns, back.turns)


def test_a_trace_agentlab_did_not_write_gets_a_clear_error(tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    kept = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    with provider.get_tracer("someone").start_as_current_span("turn"):
        pass
    path = al.io.write_otlp_json(kept.get_finished_spans(), tmp_path / "other.jsonl")
    with pytest.raises(al.ConfigError, match="neither by agentlab.*nor by Pipecat or LiveKit"):
        al.io.read(path)

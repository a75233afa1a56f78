"""A recording as OpenTelemetry traces, through the ``opentelemetry-sdk`` (extra ``otel``).

One trace per call: a ``conversation`` span (Pipecat's name; ``agent_session`` is
LiveKit's) over the call, a ``turn`` span per caller turn with the attributes Pipecat's
turn spans carry (``turn.number``, ``turn.was_interrupted``,
``turn.user_bot_latency_seconds``), under it a span per latency segment (``agentlab.<segment>``,
consecutive, adding up to the turn's total), the stage spans dashboards expect (``stt``,
``llm`` with the GenAI conventions' ``gen_ai.*`` usage attributes and ``metrics.ttfb``,
``tts``), ``execute_tool <name>`` spans (GenAI conventions) and a ``hook <name>`` span per
handler call. Every canonical event is also a span event (its fields as ``agentlab.*``
attributes), which is what :func:`agentlab.io.read` reads back: export then import gives
the same tables.

Transcripts, replies and tool arguments/results are content: left out unless
``capture_content=True`` (the GenAI conventions' content-capture switch). API keys are
never in a recording, so never in a trace.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from .. import events as ev
from ..errors import ConfigError
from ..recorder.recorder import AGENTLAB_SOURCE, LABELS

CONTENT_FIELDS = {"text", "args", "result"}  # left out unless capture_content
EPOCH_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: virtual ms 0 of every call
FORMAT = "agentlab-otlp"  # the resource attribute that marks agentlab's own export


def _require_sdk():
    try:
        from opentelemetry.sdk.trace import TracerProvider  # noqa: F401
    except ImportError:
        raise ConfigError("OpenTelemetry export needs the otel extra: pip install "
                          "'agentlab[otel]' (opentelemetry-sdk and the OTLP encoder).") from None


def to_otel(rec: Any, path: str | Path | None = None, *, exporter: Any = None,
            capture_content: bool = False, service_name: str = "agentlab",
            start_unix_ns: int = EPOCH_NS) -> list:
    """Export ``rec`` as traces: written to ``path`` as OTLP/JSON lines (one
    ``ExportTraceServiceRequest`` per call, as a collector's file exporter writes them) and
    sent to ``exporter`` (any OpenTelemetry ``SpanExporter``, e.g. OTLP/HTTP to a
    collector). Returns the finished spans. Call ``t_ms`` 0 is ``start_unix_ns``."""
    _require_sdk()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({
        "service.name": service_name, "agentlab.format": FORMAT,
        "agentlab.capture_content": capture_content}), id_generator=_StableIds(),
        # a call's every event is a span event: the SDK's default of 128 would drop the
        # oldest (session_start first) of a long call
        span_limits=SpanLimits(max_events=1_000_000))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agentlab")
    by_session = _events_by_session(rec)
    labels = {row["session_id"]: row for row in rec.labels_frame().to_dict("records")}
    for sid in rec.session_ids():
        _export_call(tracer, sid, by_session.get(sid, []), labels.get(sid, {}),
                     capture_content, start_unix_ns)
    provider.force_flush()
    spans = list(kept.get_finished_spans())
    provider.shutdown()
    if path is not None:
        write_otlp_json(spans, path)
    return spans


def _events_by_session(rec: Any) -> dict[str, list[tuple[str, dict]]]:
    """Every recorded event per session, in arrival order: ``(name, fields)``."""
    out: dict[str, list[tuple[int, str, dict]]] = defaultdict(list)
    for name in ev.EVENT_TYPES:
        for row in rec.table(name).to_pylist():
            out[row["session_id"]].append((row.pop("row"), name, row))
    return {sid: [(n, f) for _, n, f in sorted(rows, key=lambda r: r[0])]
            for sid, rows in out.items()}


def _ns(start_unix_ns: int, t_ms: float) -> int:
    return start_unix_ns + round(t_ms * 1e6)


def _export_call(tracer: Any, sid: str, events: list[tuple[str, dict]], labels: dict,
                 capture: bool, t0: int) -> None:
    from opentelemetry import trace

    if not events:
        return
    start = next((f for n, f in events if n == "session_start"), events[0][1])
    end = next((f for n, f in events if n == "session_end"), events[-1][1])
    attrs = {"conversation.id": sid, "gen_ai.conversation.id": sid,
             "agentlab.session_id": sid, "agentlab.agent_id": start.get("agent_id", "")}
    source = labels.get("source")
    labels = {**labels, "source": source if isinstance(source, str) else AGENTLAB_SOURCE}
    for key in LABELS:
        value = labels.get(key)
        if value is not None and value == value:  # not NaN
            attrs[f"agentlab.{key}"] = value if isinstance(value, (str, int, float)) \
                else str(value)
    root = tracer.start_span("conversation", start_time=_ns(t0, start["t_ms"]),
                             attributes=attrs)
    ctx = trace.set_span_in_context(root)
    turns: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    for name, fields in events:
        turns[fields["turn_id"]].append((name, fields))
        root.add_event(name, _event_attributes(fields, capture), _ns(t0, fields["t_ms"]))
    for turn_id, turn_events in sorted(turns.items()):
        if turn_id > 0:
            _export_turn(tracer, ctx, turn_id, turn_events, capture, t0)
    for name, fields in events:
        if name == "hook_call":
            at = _ns(t0, fields["t_ms"])
            span = tracer.start_span(f"hook {fields['hook']}", context=ctx, start_time=at,
                                     attributes={"agentlab.hook": fields["hook"],
                                                 "agentlab.hook.scope": fields["scope"],
                                                 "agentlab.hook.handler": fields["handler"],
                                                 "agentlab.hook.ok": fields["ok"],
                                                 "agentlab.turn_id": fields["turn_id"]})
            span.end(at + round(fields["duration_ms"] * 1e6))
    root.end(_ns(t0, end["t_ms"]))


def _export_turn(tracer: Any, ctx: Any, turn_id: int, events: list[tuple[str, dict]],
                 capture: bool, t0: int) -> None:
    from opentelemetry import trace

    first = {}
    for name, fields in events:
        first.setdefault(name, fields)
    begin = first.get("user_speech_start", events[0][1])["t_ms"]
    end_ev = first.get("turn_end")
    finish = max(f["t_ms"] for _, f in events)
    attrs: dict[str, Any] = {"turn.number": turn_id}
    if end_ev is not None:
        attrs.update({"turn.was_interrupted": bool(end_ev["interrupted"]),
                      "turn.user_bot_latency_seconds": end_ev["total_e2e_ms"] / 1000.0,
                      "agentlab.total_e2e_ms": end_ev["total_e2e_ms"]})
    turn = tracer.start_span("turn", context=ctx, start_time=_ns(t0, begin),
                             attributes=attrs)
    tctx = trace.set_span_in_context(turn)
    heard = first.get("user_speech_end")
    if end_ev is not None and heard is not None:  # the segments, consecutive from U
        at = heard["t_ms"]
        for seg in end_ev["segments"]:
            span = tracer.start_span(f"agentlab.{seg['name']}", context=tctx,
                                     start_time=_ns(t0, at),
                                     attributes={"agentlab.segment": seg["name"],
                                                 "agentlab.duration_ms": seg["ms"]})
            at += seg["ms"]
            span.end(_ns(t0, at))
    _stage(tracer, tctx, "stt", first, "user_speech_end", "stt_final", t0,
           {"metrics.ttfb": _gap_s(first, "user_speech_end", "stt_final")})
    llm = first.get("llm_response")
    usage = {} if llm is None else {"gen_ai.usage.input_tokens": llm["tokens_in"],
                                    "gen_ai.usage.output_tokens": llm["tokens_out"]}
    _stage(tracer, tctx, "llm", first, "llm_request", "llm_response", t0,
           {"gen_ai.operation.name": "chat", "gen_ai.system": "agentlab.sim",
            "metrics.ttfb": _gap_s(first, "llm_request", "llm_first_token"), **usage})
    _stage(tracer, tctx, "tts", first, "tts_request", "agent_speech_end", t0,
           {"metrics.ttfb": _gap_s(first, "tts_request", "tts_first_audio")})
    results = {f["tool_call_id"]: f for n, f in events if n == "tool_result"}
    for name, call in events:
        if name != "tool_call":
            continue
        done = results.get(call["tool_call_id"])
        tool_attrs = {"gen_ai.operation.name": "execute_tool",
                      "gen_ai.tool.name": call["tool_name"],
                      "gen_ai.tool.call.id": call["tool_call_id"],
                      "agentlab.execution": call["execution"]}
        if done is not None:
            tool_attrs["agentlab.status"] = done["status"]
        if capture:
            tool_attrs["gen_ai.tool.call.arguments"] = _text(call["args"])
            if done is not None:
                tool_attrs["gen_ai.tool.call.result"] = _text(done["result"])
        span = tracer.start_span(f"execute_tool {call['tool_name']}", context=tctx,
                                 start_time=_ns(t0, call["t_ms"]), attributes=tool_attrs)
        span.end(_ns(t0, done["t_ms"] if done is not None else finish))
    turn.end(_ns(t0, finish))


def _stage(tracer: Any, ctx: Any, name: str, first: dict, since: str, until: str, t0: int,
           attrs: dict) -> None:
    if since not in first or until not in first:
        return  # a stage this turn never reached is missing, not zero
    span = tracer.start_span(name, context=ctx, start_time=_ns(t0, first[since]["t_ms"]),
                             attributes={k: v for k, v in attrs.items() if v is not None})
    span.end(_ns(t0, first[until]["t_ms"]))


def _gap_s(first: dict, since: str, until: str) -> float | None:
    if since not in first or until not in first:
        return None
    return (first[until]["t_ms"] - first[since]["t_ms"]) / 1000.0


def _event_attributes(fields: dict, capture: bool) -> dict[str, Any]:
    """An event's fields as span-event attributes (exact ms kept as ``agentlab.t_ms``;
    sequences and free-form values as JSON text; content only when captured)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if (key in CONTENT_FIELDS and not capture) or value is None:
            continue
        if not isinstance(value, (str, bool, int, float)):
            value = json.dumps(value, default=str)
        out[f"agentlab.{key}"] = value
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class _StableIds:
    """Trace and span ids from a counter hashed with a fixed key: the same recording gives
    the same trace file (the SDK's default ids are random)."""

    def __init__(self) -> None:
        self._n = 0

    def _next(self, bits: int) -> int:
        self._n += 1
        digest = hashlib.blake2b(self._n.to_bytes(8, "big"), digest_size=16).digest()
        return int.from_bytes(digest[: bits // 8], "big") or 1

    def generate_span_id(self) -> int:
        return self._next(64)

    def generate_trace_id(self) -> int:
        return self._next(128)

    def is_trace_id_random(self) -> bool:
        return False  # W3C's random flag: these ids are derived, not random


# -- OTLP/JSON files -------------------------------------------------------------------
def write_otlp_json(spans: list, path: str | Path) -> Path:
    """Write ``spans`` as OTLP/JSON lines: one ``ExportTraceServiceRequest`` per trace, in
    the protobuf JSON mapping with hex trace and span ids (the OTLP/JSON rules)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    by_trace: dict[int, list] = defaultdict(list)
    for span in spans:
        by_trace[span.context.trace_id].append(span)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for trace_spans in by_trace.values():
            message = MessageToDict(encode_spans(trace_spans))
            out.write(json.dumps(_hex_ids(message), separators=(",", ":")) + "\n")
    return path


def _hex_ids(node: Any) -> Any:
    """OTLP/JSON writes trace/span ids as hex, not protobuf JSON's base64."""
    import base64

    if isinstance(node, dict):
        return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId")
                    and isinstance(v, str) else _hex_ids(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node

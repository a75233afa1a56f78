"""LiveKit Agents' metrics events and session report as canonical events
(``agentlab.io.read``); the segments follow :func:`agentlab.io.livekit.segments`.

``livekit-metrics``: one ``metrics_collected`` event per line (``ev.model_dump(mode="json")``
from ``session.on("metrics_collected")``, or the bare ``ev.metrics.model_dump()``); the file
is one call, its session id the file's stem, times from the first event's ``timestamp``.
A turn is a ``speech_id`` (the reply it led to):

===============  ==========================================================================
LiveKit          agentlab
===============  ==========================================================================
``eou_metrics``  the turn's ``user_turn`` at ``timestamp`` (the commit), ``user_speech_end``
                 ``end_of_utterance_delay`` before it, ``stt_final`` ``transcription_delay``
                 after that; segments ``stt``, ``endpointing``, ``user_hooks``
                 (``on_user_turn_completed_delay``)
``llm_metrics``  ``llm_request`` at ``timestamp - duration``, ``llm_first_token`` ``ttft``
                 after it, ``llm_response`` at ``timestamp`` (``prompt_tokens``,
                 ``completion_tokens``); the turn's last one is its ``llm_ttft``
``tts_metrics``  ``tts_request`` at ``timestamp - duration``, ``tts_first_audio`` ``ttfb``
                 after it; segment ``tts_ttfb``
``stt_metrics``, ``vad_metrics``  nothing per turn (streamed audio, not the caller's speech)
===============  ==========================================================================

Metrics events carry no end-to-end latency, texts or speech start: ``total_e2e_ms`` and
``other`` are missing. The session report (``livekit-report``: ``SessionReport.to_dict()``,
``ctx.make_session_report()``) has them: per message in ``chat_history``, a user message's
``metrics`` (``started_speaking_at``, ``stopped_speaking_at``, ``transcription_delay``,
``end_of_turn_delay``, ``on_user_turn_completed_delay``) and an assistant message's
(``started_speaking_at``, ``stopped_speaking_at``, ``llm_node_ttft``, ``tts_node_ttfb``,
``e2e_latency``); ``function_call`` / ``function_call_output`` items are the tool calls.
The session id is the report's ``room_id``; ``close_reason`` ends the call. The report keeps
tokens per model, not per turn: its ``llm_usage`` entries are ``llm_response`` rows of the
call (turn 0) at its end, so the usage table has them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import events as ev
from .livekit import segments
from .spans import json_or_text, numbered

_PER_TURN = {"eou_metrics", "llm_metrics", "tts_metrics"}
_PASSED_OVER = {"stt_metrics", "vad_metrics", "realtime_model_metrics",
                "interruption_metrics"}


def is_metrics(first: Any) -> bool:
    if not isinstance(first, dict):
        return False
    kind = str(first.get("type", ""))
    return kind == "metrics_collected" or kind.endswith("_metrics")


def is_report(first: Any) -> bool:
    return isinstance(first, dict) and "chat_history" in first and "job_id" in first


class MetricsReader:
    """``metrics_collected`` lines, kept until the file is read, then one call's rows."""

    def __init__(self, rec: Any, unknown: Counter, sid: str, source: str):
        self.rec, self.unknown, self.sid, self.source = rec, unknown, sid, source
        self.metrics: list[dict] = []

    def line(self, obj: dict) -> None:
        metrics = obj["metrics"] if obj.get("type") == "metrics_collected" else obj
        kind = metrics["type"]
        if kind in _PER_TURN:
            float(metrics["timestamp"])  # a line without its time is not a metrics event
            self.metrics.append(metrics)
        elif kind not in _PASSED_OVER:
            self.unknown[f"metrics {kind}"] += 1

    def finish(self) -> None:
        if not self.metrics:
            return
        t0 = min(m["timestamp"] - m.get("duration", 0.0) for m in self.metrics)
        turns: dict[str, list[dict]] = {}
        for m in self.metrics:
            turns.setdefault(str(m.get("speech_id") or ""), []).append(m)
        out: list[tuple] = [(0.0, 0, ev.SessionStart, ("", self.sid, "", "inbound"))]
        for n, group in enumerate(turns.values(), 1):
            out += _metrics_turn(n, group, t0)
        end = max(t for t, *_ in out)
        out.append((end, 0, ev.SessionEnd, ("unknown", "ended", end)))
        _take(self.rec, numbered(out, self.sid), self.source)


def _metrics_turn(n: int, group: list[dict], t0: float) -> list[tuple]:
    rows: list[tuple] = []
    measured: dict[str, Any] = {}
    for m in group:
        at = 1000.0 * (m["timestamp"] - t0)
        if m["type"] == "eou_metrics":
            eou, stt = 1000.0 * m["end_of_utterance_delay"], 1000.0 * m["transcription_delay"]
            rows += [(at - eou, n, ev.UserSpeechEnd, ()),
                     (at - eou + stt, n, ev.SttFinal, ("",)), (at, n, ev.UserTurn, ("",))]
            measured.update(transcription_ms=stt, end_of_turn_ms=eou,
                            hooks_ms=1000.0 * m.get("on_user_turn_completed_delay", 0.0))
        elif m["type"] == "llm_metrics":
            start, ttft = at - 1000.0 * m["duration"], 1000.0 * m["ttft"]
            rows += [(start, n, ev.LlmRequest, ()), (start + ttft, n, ev.LlmFirstToken, ()),
                     (at, n, ev.LlmResponse, ("", int(m.get("prompt_tokens", 0)),
                                              int(m.get("completion_tokens", 0))))]
            measured["llm_ttft_ms"] = ttft  # the last request's, as the trace's
        else:
            start, ttfb = at - 1000.0 * m["duration"], 1000.0 * m["ttfb"]
            rows += [(start, n, ev.TtsRequest, ("",)), (start + ttfb, n, ev.TtsFirstAudio, ())]
            measured["tts_ttfb_ms"] = ttfb
    end = max(t for t, *_ in rows)
    cancelled = any(m.get("cancelled") for m in group)
    rows.append((end, n, ev.TurnEnd, (float("nan"), segments(**measured), cancelled)))
    return rows


def read_report(report: dict, rec: Any, unknown: Counter, source: str) -> None:
    """A LiveKit session report (one JSON object) as one call's rows."""
    sid = str(report.get("room_id") or report["job_id"])
    items = report["chat_history"]["items"]
    stamps = [i["created_at"] for i in items if "created_at" in i]
    t0 = report.get("started_at") or (min(stamps) if stamps else report["timestamp"])
    ms = lambda at: 1000.0 * (at - t0)
    out: list[tuple] = [(0.0, 0, ev.SessionStart, ("", sid, "", "inbound"))]
    n, user, tools, calls = 0, {}, 0.0, {}
    for item in items:
        kind = item.get("type")
        if kind == "message" and item["role"] == "user":
            n, user, tools = n + 1, item.get("metrics", {}), 0.0
            out += _user_rows(n, item, user, ms)
        elif kind == "function_call":
            calls[item["call_id"]] = item
            args = json_or_text(item.get("arguments"))
            out.append((ms(item["created_at"]), n, ev.ToolCall, (
                item["call_id"], item["name"], args if isinstance(args, dict) else {}, "",
                "inline")))
        elif kind == "function_call_output":
            call = calls.get(item["call_id"], item)
            took = ms(item["created_at"]) - ms(call["created_at"])
            tools += took
            failed = bool(item.get("is_error"))
            out.append((ms(item["created_at"]), n, ev.ToolResult, (
                item["call_id"], item["name"], item.get("output"),
                "error" if failed else "completed", took,
                str(item.get("output")) if failed else None)))
        elif kind == "message" and item["role"] == "assistant":
            out += _reply_rows(max(n, 1), item, user, tools, ms)
        elif kind not in ("agent_handoff", "agent_config_update", "message"):
            unknown[f"chat item {kind}"] += 1
    end = ms(report["timestamp"])
    for usage in report.get("usage") or []:  # the report keeps tokens per model, not turn
        if usage.get("type") == "llm_usage":
            out.append((end, 0, ev.LlmResponse, ("", int(usage.get("input_tokens", 0)),
                                                 int(usage.get("output_tokens", 0)))))
    reason = str(report.get("close_reason") or "unknown").removeprefix("CR_").lower()
    out.append((end, 0, ev.SessionEnd, (reason, "ended", end)))
    _take(rec, numbered(out, sid), source)


def _user_rows(n: int, item: dict, m: dict, ms: Any) -> list[tuple]:
    text = " ".join(c for c in item.get("content", []) if isinstance(c, str))
    if "stopped_speaking_at" not in m:
        return [(ms(item["created_at"]), n, ev.UserTurn, (text,))]
    end = ms(m["stopped_speaking_at"])
    rows = [(ms(m["started_speaking_at"]), n, ev.UserSpeechStart, ()),
            (end, n, ev.UserSpeechEnd, ())]
    stt = 1000.0 * m.get("transcription_delay", 0.0)
    rows.append((end + stt, n, ev.SttFinal, (text,)))
    rows.append((end + 1000.0 * m.get("end_of_turn_delay", 0.0), n, ev.UserTurn, (text,)))
    return rows


def _reply_rows(n: int, item: dict, user: dict, tools: float, ms: Any) -> list[tuple]:
    m = item.get("metrics", {})
    text = " ".join(c for c in item.get("content", []) if isinstance(c, str))
    interrupted = bool(item.get("interrupted"))
    rows: list[tuple] = []
    if "started_speaking_at" in m:
        rows.append((ms(m["started_speaking_at"]), n, ev.AgentSpeechStart, ("reply",)))
    end = ms(m.get("stopped_speaking_at", item["created_at"]))
    if "stopped_speaking_at" in m:
        rows.append((end, n, ev.AgentSpeechEnd, (interrupted, "reply")))
    rows.append((end, n, ev.AgentTurn, (text,)))
    sec = lambda d, key: None if key not in d else 1000.0 * d[key]
    total = sec(m, "e2e_latency")
    rows.append((end, n, ev.TurnEnd, (
        float("nan") if total is None else total,
        segments(transcription_ms=sec(user, "transcription_delay"),
                 end_of_turn_ms=sec(user, "end_of_turn_delay"),
                 hooks_ms=sec(user, "on_user_turn_completed_delay"),
                 llm_ttft_ms=sec(m, "llm_node_ttft"), tools_ms=tools or None,
                 tts_ttfb_ms=sec(m, "tts_node_ttfb"), total_ms=total),
        interrupted)))
    return rows


def _take(rec: Any, rows: list[tuple], source: str) -> None:
    for row in rows:
        rec.take(row)
    rec.label(rows[0][1], source=source)

"""Pipecat's metrics frames, logged as JSON lines, as canonical events (``agentlab.io.read``).

One line per ``MetricsData`` of a ``MetricsFrame``: ``type`` (the class name), the pipeline
clock's ``timestamp_ns`` (``FramePushed.timestamp``, optional) and the model's fields
(``processor``, ``model``, ``value``), as an observer writes them (docs/traces.md shows
one). The file is one call; its session id is the file's stem.

Pipecat's metrics name the processor, not its role, and no turn: a processor is an LLM, TTS
or STT by the usage metrics it reports (``LLMUsageMetricsData``, ``TTSUsageMetricsData``,
``STTUsageMetricsData``), else by ``LLM``/``TTS``/``STT`` in its name; a turn starts at an
STT or LLM measurement that follows the current turn's LLM one.

========================  ========================================================================
Pipecat                   agentlab
========================  ========================================================================
``TTFBMetricsData``       LLM: ``llm_request`` ``value`` s before ``timestamp_ns``,
                          ``llm_first_token`` at it (segment ``llm_ttft``); TTS: ``tts_request``
                          / ``tts_first_audio`` (``tts_ttfb``); STT: segment ``stt``
``LLMUsageMetricsData``   ``llm_response`` with ``prompt_tokens`` / ``completion_tokens``
``TTSUsageMetricsData``,  the processor's role; nothing per turn
``ProcessingMetricsData``,
``TextAggregationMetricsData``, ``STTUsageMetricsData``
========================  ========================================================================

Pipecat announces each processor that reports metrics with zero TTFB and processing values
(no model) when the pipeline starts; those are not measurements and are passed over. No
texts, speech instants or end-to-end latency are in these metrics: those columns are missing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import events as ev
from .spans import numbered

_ROLE_OF_USAGE = {"LLMUsageMetricsData": "llm", "TTSUsageMetricsData": "tts",
                  "STTUsageMetricsData": "stt"}
_KNOWN = {"TTFBMetricsData", "ProcessingMetricsData", "TextAggregationMetricsData",
          "TTFAMetricsData", "TTFATMetricsData", "TurnMetricsData", "SmartTurnMetricsData",
          *_ROLE_OF_USAGE}


def is_metrics(first: Any) -> bool:
    return isinstance(first, dict) and str(first.get("type", "")).endswith("MetricsData")


class MetricsReader:
    def __init__(self, rec: Any, unknown: Counter, sid: str, source: str):
        self.rec, self.unknown, self.sid, self.source = rec, unknown, sid, source
        self.items: list[dict] = []

    def line(self, item: dict) -> None:
        kind, processor = item["type"], str(item["processor"])
        if kind not in _KNOWN:
            self.unknown[f"metrics {kind}"] += 1
            return
        startup = item.get("model") is None and item.get("value") == 0
        if not startup:
            self.items.append({**item, "processor": processor,
                               "t_ms": float(item.get("timestamp_ns", 0)) / 1e6})

    def finish(self) -> None:
        if not self.items:
            return
        role = {i["processor"]: _ROLE_OF_USAGE[i["type"]] for i in self.items
                if i["type"] in _ROLE_OF_USAGE}
        out: list[tuple] = [(0.0, 0, ev.SessionStart, ("", self.sid, "", "inbound"))]
        turn, measured, llm_seen, last_t = 0, [], False, 0.0
        for item in self.items:
            kind = role.get(item["processor"]) or _role_by_name(item["processor"])
            if item["type"] not in ("TTFBMetricsData", "LLMUsageMetricsData"):
                continue
            if kind is None:
                self.unknown[f"processor {item['processor']} (not an LLM, TTS or STT)"] += 1
                continue
            if kind in ("stt", "llm") and item["type"] == "TTFBMetricsData" and (
                    llm_seen or turn == 0):
                if turn:
                    out.append(_turn_end(turn, measured, last_t))
                turn, measured, llm_seen = turn + 1, [], False
                out.append((item["t_ms"], turn, ev.UserTurn, ("",)))
            last_t = item["t_ms"]
            out += _rows(item, kind, turn, measured)
            llm_seen = llm_seen or kind == "llm"
        if turn:
            out.append(_turn_end(turn, measured, last_t))
        end = max(i["t_ms"] for i in self.items)
        out.append((end, 0, ev.SessionEnd, ("unknown", "ended", end)))
        rows = numbered(out, self.sid)
        for row in rows:
            self.rec.take(row)
        self.rec.label(self.sid, source=self.source)


def _role_by_name(processor: str) -> str | None:
    name = processor.upper()
    return next((role.lower() for role in ("LLM", "TTS", "STT") if role in name), None)


_SEGMENT = {"llm": "llm_ttft", "tts": "tts_ttfb", "stt": "stt"}


def _rows(item: dict, kind: str, turn: int, measured: list) -> list[tuple]:
    t = item["t_ms"]
    if item["type"] == "LLMUsageMetricsData":
        usage = item["value"]
        return [(t, turn, ev.LlmResponse, ("", int(usage.get("prompt_tokens", 0)),
                                           int(usage.get("completion_tokens", 0))))]
    if any(name == _SEGMENT[kind] for name, _ in measured):
        return []  # a turn's first TTFB of a stage is its segment (not a later sentence's)
    ms = 1000.0 * float(item["value"])
    measured.append((_SEGMENT[kind], ms))
    if kind == "llm":
        return [(t - ms, turn, ev.LlmRequest, ()), (t, turn, ev.LlmFirstToken, ())]
    if kind == "tts":
        return [(t - ms, turn, ev.TtsRequest, ("",)), (t, turn, ev.TtsFirstAudio, ())]
    return []


def _turn_end(turn: int, measured: list, t: float) -> tuple:
    return (t, turn, ev.TurnEnd, (float("nan"), tuple(measured), False))

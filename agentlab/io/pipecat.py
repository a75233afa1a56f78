"""Pipecat's OpenTelemetry traces as canonical events (``agentlab.io.read``).

Pipecat (``PipelineWorker(enable_tracing=True)``) writes a ``conversation`` span per call,
a ``turn`` span per turn under it, and ``stt``/``llm``/``tts`` service spans under the
turns. What each becomes:

================================  ===========================================================
Pipecat                           agentlab
================================  ===========================================================
``conversation`` span             one call: ``session_start`` at its start (t_ms 0),
                                  ``session_end`` at its end (reason ``unknown``: the
                                  trace does not say why a call ended)
``turn`` span, ``turn.number``    a turn (``turn_id``): ``user_turn`` at its start;
                                  ``turn_end`` at its end with ``total_e2e_ms`` =
                                  ``turn.user_bot_latency_seconds`` and
                                  ``interrupted`` = ``turn.was_interrupted``
``llm`` span                      ``llm_request`` at its start, ``llm_first_token`` after
                                  ``metrics.ttfb``, ``llm_response`` at its end with
                                  ``gen_ai.usage.input_tokens`` / ``output_tokens``;
                                  ``output`` is the ``agent_turn`` text
``tts`` span                      ``tts_request`` at its start, ``tts_first_audio`` after
                                  ``metrics.ttfb``
``stt`` span                      ``stt_final`` at its end; ``metrics.ttfb`` is the ``stt``
                                  segment
segments                          ``llm_ttft`` = llm ``metrics.ttfb``, ``tts_ttfb`` = tts
                                  ``metrics.ttfb``, ``stt`` = stt ``metrics.ttfb``, ``other``
                                  = the rest of the total; a stage Pipecat did not measure
                                  is missing (no column value), never zero
================================  ===========================================================

The caller's and the agent's speech instants are not in Pipecat's spans, so the peer
metrics that need them (``e2e_latency_ms`` from the instants, ``transcription_delay_ms``)
are missing; ``total_e2e_ms`` is Pipecat's own user-to-bot latency.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import events as ev
from .spans import Trace, numbered

# what agentlab reads off each span; anything else is counted as unknown
KNOWN = {
    "conversation": {"conversation.id", "conversation.type"},
    "turn": {"turn.number", "turn.type", "conversation.id", "turn.user_bot_latency_seconds",
             "turn.duration_seconds", "turn.was_interrupted"},
    "llm": {"gen_ai.provider.name", "gen_ai.request.model", "gen_ai.operation.name",
            "gen_ai.output.type", "stream", "input", "output", "metrics.ttfb",
            "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "tools", "tool_count",
            "system_instructions", "messages"},
    "tts": {"gen_ai.provider.name", "gen_ai.request.model", "gen_ai.operation.name",
            "gen_ai.output.type", "voice_id", "text", "metrics.character_count",
            "metrics.ttfb", "tts.interrupted"},
    "stt": {"gen_ai.provider.name", "gen_ai.request.model", "gen_ai.operation.name",
            "transcript", "is_final", "language", "metrics.ttfb", "vad_enabled"},
}


ROOT = "conversation"  # the span a trace hangs from: one call


def is_pipecat(resource: dict, scope_names: set[str]) -> bool:
    return "pipecat" in scope_names or str(resource.get("service.name", "")).startswith(
        "pipecat")


def rows_of_trace(spans: list[dict], attrs_of: Any, unknown: Counter) -> list[tuple]:
    """One Pipecat trace (a call) as canonical event rows, in time order."""
    root = next((s for s in spans if s["name"] == ROOT), None)
    if root is None:
        return []
    trace = Trace(spans, root, attrs_of)
    trace.count_unknown(KNOWN, unknown)
    attrs_of = trace.attrs_of  # decoded once per span
    sid = str(attrs_of(root).get("conversation.id") or root["traceId"])
    out: list[tuple[float, int, type, tuple]] = [
        (0.0, 0, ev.SessionStart, ("", sid, "", "inbound"))]
    for turn in trace.children.get(root["spanId"], []):
        if turn["name"] == "turn":
            out += _turn_rows(turn, trace.children.get(turn["spanId"], []), attrs_of,
                              trace.ms)
    end = trace.ms(root["endTimeUnixNano"])
    out.append((end, 0, ev.SessionEnd, ("unknown", "ended", end)))
    return numbered(out, sid)


def _turn_rows(turn: dict, children: list[dict], attrs_of: Any, ms: Any) -> list[tuple]:
    a = attrs_of(turn)
    n = int(a.get("turn.number", 0))
    rows = [(ms(turn["startTimeUnixNano"]), n, ev.UserTurn, ("",))]
    measured: list[tuple[str, float]] = []
    for span in sorted(children, key=lambda s: int(s["startTimeUnixNano"])):
        s = attrs_of(span)
        start, end = ms(span["startTimeUnixNano"]), ms(span["endTimeUnixNano"])
        ttfb = s.get("metrics.ttfb")
        if span["name"] == "stt":
            rows.append((end, n, ev.SttFinal, (str(s.get("transcript", "")),)))
            if ttfb is not None:
                measured.append(("stt", 1000.0 * ttfb))
        elif span["name"] == "llm":
            rows.append((start, n, ev.LlmRequest, ()))
            if ttfb is not None:
                rows.append((start + 1000.0 * ttfb, n, ev.LlmFirstToken, ()))
                measured.append(("llm_ttft", 1000.0 * ttfb))
            text = str(s.get("output", ""))
            rows.append((end, n, ev.LlmResponse, (text, int(s.get("gen_ai.usage.input_tokens", 0)),
                                                  int(s.get("gen_ai.usage.output_tokens", 0)))))
            rows.append((end, n, ev.AgentTurn, (text,)))
        elif span["name"] == "tts":
            rows.append((start, n, ev.TtsRequest, (str(s.get("text", "")),)))
            if ttfb is not None:
                rows.append((start + 1000.0 * ttfb, n, ev.TtsFirstAudio, ()))
                measured.append(("tts_ttfb", 1000.0 * ttfb))
    latency = a.get("turn.user_bot_latency_seconds")
    total = float("nan") if latency is None else 1000.0 * float(latency)
    segments = tuple(measured)
    if latency is not None:  # the residual, so the segments add up to the total
        segments += (("other", total - sum(v for _, v in measured)),)
    rows.append((ms(turn["endTimeUnixNano"]), n, ev.TurnEnd,
                 (total, segments, bool(a.get("turn.was_interrupted", False)))))
    return rows

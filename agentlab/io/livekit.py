"""LiveKit Agents' OpenTelemetry traces as canonical events (``agentlab.io.read``).

LiveKit (``livekit.agents.telemetry.set_tracer_provider``) writes an ``agent_session``
span per session, an ``agent_turn`` span per reply under it, and under each turn an
``llm_node`` with its ``llm_request``. What each becomes:

==========================  ================================================================
LiveKit                     agentlab
==========================  ================================================================
``agent_session`` span      one call (the trace id is the session id): ``session_start`` at
                            its start, ``session_end`` at its end with the reason of the
                            ``session_close`` span's ``lk.close_reason``
``agent_turn`` span         a turn (numbered in order): ``user_turn`` at its start
                            (``lk.pii.user_input`` is the text), ``agent_turn`` with
                            ``lk.pii.response.text``; ``turn_end`` at its end with
                            ``interrupted`` = ``lk.interrupted``
``llm_request`` span        ``llm_request`` at its start, ``llm_first_token`` after
                            ``gen_ai.response.time_to_first_chunk`` (the ``llm_ttft``
                            segment), ``llm_response`` at its end with
                            ``gen_ai.usage.input_tokens`` / ``output_tokens``
==========================  ================================================================

LiveKit's text mode (the fixture the tests read) has no audio, so no ``user_turn``,
``eou_detection`` or ``tts_node`` spans: the end-to-end latency, endpointing and TTS
stages are missing (``total_e2e_ms`` is NaN), never zero. Mapping those spans from an
audio session is not built yet.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import events as ev
from .spans import Trace, numbered

# spans LiveKit writes around a session that carry nothing agentlab's tables hold
STRUCTURE = frozenset({"setup_toolsets", "start_agent_activity", "on_enter", "on_exit",
             "session_start", "drain_agent_activity", "llm_request_run", "llm_node",
             "agent_speaking"})
KNOWN = {
    "agent_session": {"lk.agent_label", "gen_ai.operation.name", "gen_ai.workflow.name"},
    "session_close": {"lk.close_reason", "lk.close.drain"},
    "agent_turn": {"gen_ai.operation.name", "gen_ai.agent.name", "lk.generation_id",
                   "lk.generation_count", "lk.speech_id", "lk.pii.user_input",
                   "lk.speech.queue_wait", "lk.interrupted", "lk.pii.response.text"},
    "llm_request": {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                    "gen_ai.request.stream", "gen_ai.output.type", "gen_ai.system_instructions",
                    "gen_ai.input.messages", "gen_ai.output.messages", "lk.llm_metrics",
                    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                    "gen_ai.response.id", "gen_ai.response.model",
                    "gen_ai.response.finish_reasons", "gen_ai.response.time_to_first_chunk",
                    "langfuse.observation.completion_start_time"},
}


def is_livekit(resource: dict, scope_names: set[str]) -> bool:
    return "livekit-agents" in scope_names or str(resource.get("service.name", "")).startswith(
        "livekit")


def rows_of_trace(spans: list[dict], attrs_of: Any, unknown: Counter) -> list[tuple]:
    """One LiveKit trace (a session) as canonical event rows, in time order."""
    root = next((s for s in spans if s["name"] == "agent_session"), None)
    if root is None:
        return []
    trace = Trace(spans, root, attrs_of)
    trace.count_unknown(KNOWN, unknown, STRUCTURE)
    ms, sid = trace.ms, root["traceId"]
    close = next((s for s in spans if s["name"] == "session_close"), None)
    reason = str(attrs_of(close).get("lk.close_reason", "unknown")) if close else "unknown"
    out: list[tuple[float, int, type, tuple]] = [
        (0.0, 0, ev.SessionStart, ("", sid, "", "inbound"))]
    turns = sorted((s for s in spans if s["name"] == "agent_turn"),
                   key=lambda s: int(s["startTimeUnixNano"]))
    for n, turn in enumerate(turns, 1):
        a = attrs_of(turn)
        text = str(a.get("lk.pii.response.text", ""))
        out.append((ms(turn["startTimeUnixNano"]), n, ev.UserTurn,
                    (str(a.get("lk.pii.user_input", "")),)))
        measured: tuple = ()
        for request in trace.descendants(turn, "llm_request"):
            r = attrs_of(request)
            start, end = ms(request["startTimeUnixNano"]), ms(request["endTimeUnixNano"])
            out.append((start, n, ev.LlmRequest, ()))
            ttft = r.get("gen_ai.response.time_to_first_chunk")
            if ttft is not None:
                out.append((start + 1000.0 * ttft, n, ev.LlmFirstToken, ()))
                measured += (("llm_ttft", 1000.0 * ttft),)
            out.append((end, n, ev.LlmResponse, (text, int(r.get("gen_ai.usage.input_tokens", 0)),
                                                 int(r.get("gen_ai.usage.output_tokens", 0)))))
        end = ms(turn["endTimeUnixNano"])
        out.append((end, n, ev.AgentTurn, (text,)))
        out.append((end, n, ev.TurnEnd, (float("nan"), measured,
                                         bool(a.get("lk.interrupted", False)))))
    end = ms(root["endTimeUnixNano"])
    out.append((end, 0, ev.SessionEnd, (reason, "ended", end)))
    return numbered(out, sid)

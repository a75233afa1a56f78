"""LiveKit Agents' OpenTelemetry traces as canonical events (``agentlab.io.read``).

LiveKit (``livekit.agents.telemetry.set_tracer_provider``) writes an ``agent_session``
span per session; under it a ``user_turn`` per caller turn (with ``user_speaking`` and
``eou_wait``) and an ``agent_turn`` per reply (with ``llm_node``/``llm_request``,
``function_tool``, ``tts_node`` and ``agent_speaking``). What each becomes:

==========================  ================================================================
LiveKit                     agentlab
==========================  ================================================================
``agent_session`` span      one call (the trace id is the session id): ``session_start`` at
                            its start, ``session_end`` at its end with the reason of the
                            ``session_close`` span's ``lk.close_reason``
``agent_turn`` span         a turn (numbered in order), with the ``user_turn`` that ended
                            before it; ``agent_turn`` (``lk.pii.response.text``) and
                            ``turn_end`` at its end: ``total_e2e_ms`` = ``lk.e2e_latency``,
                            ``interrupted`` = ``lk.interrupted``
``user_speaking`` span      ``user_speech_start`` / ``user_speech_end`` (the end is U, the
                            instant the latency is measured from)
``user_turn`` span          ``stt_final`` at U + ``lk.transcription_delay``, ``user_turn``
                            (``lk.pii.user_transcript``) at U + ``lk.end_of_turn_delay``;
                            text mode has no user turn: ``user_turn`` at the agent turn's
                            start with ``lk.pii.user_input``
``llm_request`` span        ``llm_request`` at its start, ``llm_first_token`` after
                            ``gen_ai.response.time_to_first_chunk``, ``llm_response`` at its
                            end with ``gen_ai.usage.input_tokens`` / ``output_tokens``
``function_tool`` span      ``tool_call`` at its start, ``tool_result`` at its end
``tts_node`` span           ``tts_request`` at its start, ``tts_first_audio`` after
                            ``lk.response.ttfb``
``agent_speaking`` span     ``agent_speech_start`` / ``agent_speech_end``
==========================  ================================================================

Segments (:func:`segments`, the same rule for the metrics events and the session report):
``stt`` = ``transcription_delay``, ``endpointing`` = ``end_of_turn_delay`` - that,
``user_hooks`` = ``on_user_turn_completed_delay``, ``llm_ttft`` = the time to first token
of the LLM request whose answer is spoken (LiveKit's ``llm_node_ttft``; a request that
called a tool before it is in ``other``), ``tools`` = the turn's tool calls' time,
``tts_ttfb``; ``other`` = the rest of ``e2e_latency``. A stage LiveKit did not measure is
missing, never zero: text mode has no audio, so no end-to-end latency, no endpointing and
no TTS.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import events as ev
from .spans import Trace, json_or_text, numbered

# spans LiveKit writes around a session that carry nothing agentlab's tables hold
STRUCTURE = frozenset({"setup_toolsets", "start_agent_activity", "on_enter", "on_exit",
                       "session_start", "drain_agent_activity", "llm_request_run",
                       "llm_node", "eou_wait", "on_user_turn_completed", "tts_stream_adapter",
                       "tts_request", "tts_request_run"})
_COMMON = {"gen_ai.conversation.id", "gen_ai.request.model", "gen_ai.provider.name"}
KNOWN = {name: names | _COMMON for name, names in {
    "agent_session": {"lk.agent_label", "gen_ai.operation.name", "gen_ai.workflow.name",
                      "lk.pii.room_name", "lk.job_id", "lk.agent_name", "lk.room_sid",
                      "lk.dispatch_id", "lk.job.worker_id", "lk.job.agent_id"},
    "session_close": {"lk.close_reason", "lk.close.drain"},
    "user_turn": {"lk.pii.user_transcript", "lk.transcript_confidence",
                  "lk.transcription_delay", "lk.end_of_turn_delay", "lk.stt.events"},
    "user_speaking": set(),
    "agent_speaking": set(),
    "agent_turn": {"gen_ai.operation.name", "gen_ai.agent.name", "lk.generation_id",
                   "lk.generation_count", "lk.speech_id", "lk.pii.user_input",
                   "lk.speech.queue_wait", "lk.interrupted", "lk.pii.response.text",
                   "lk.e2e_latency", "lk.end_of_turn_delay", "lk.transcription_delay",
                   "lk.on_user_turn_completed_delay"},
    "llm_request": {"gen_ai.operation.name", "gen_ai.request.stream", "gen_ai.output.type",
                    "gen_ai.system_instructions", "gen_ai.input.messages",
                    "gen_ai.output.messages", "lk.llm_metrics", "gen_ai.usage.input_tokens",
                    "gen_ai.usage.output_tokens", "gen_ai.response.id",
                    "gen_ai.response.model", "gen_ai.response.finish_reasons",
                    "gen_ai.response.time_to_first_chunk", "gen_ai.tool.definitions",
                    "langfuse.observation.completion_start_time"},
    "function_tool": {"lk.function_tool.id", "lk.function_tool.name",
                      "lk.pii.function_tool.arguments", "gen_ai.operation.name",
                      "gen_ai.tool.name", "gen_ai.tool.type", "gen_ai.tool.call.id",
                      "gen_ai.agent.name", "gen_ai.tool.description",
                      "gen_ai.tool.call.arguments", "lk.pii.function_tool.output",
                      "lk.function_tool.is_error", "gen_ai.tool.call.result"},
    "tts_node": {"lk.response.ttfb"},
}.items()}


ROOT = "agent_session"  # the span a trace hangs from: one call


def is_livekit(resource: dict, scope_names: set[str]) -> bool:
    return "livekit-agents" in scope_names or str(resource.get("service.name", "")).startswith(
        "livekit")


def segments(*, transcription_ms: Any = None, end_of_turn_ms: Any = None,
             hooks_ms: Any = None, llm_ttft_ms: Any = None, tools_ms: Any = None,
             tts_ttfb_ms: Any = None, total_ms: Any = None) -> tuple:
    """A LiveKit turn's segments from what LiveKit measured (None: not measured), in
    agentlab's pipeline order; ``other`` is the rest of the total, so they add up."""
    endpointing = None
    if end_of_turn_ms is not None:
        endpointing = end_of_turn_ms - (transcription_ms or 0.0)
    measured = tuple((name, float(ms)) for name, ms in (
        ("stt", transcription_ms), ("endpointing", endpointing), ("user_hooks", hooks_ms),
        ("llm_ttft", llm_ttft_ms), ("tools", tools_ms), ("tts_ttfb", tts_ttfb_ms))
        if ms is not None)
    if total_ms is None:
        return measured
    return (*measured, ("other", total_ms - sum(ms for _, ms in measured)))


def _ms(seconds: Any) -> float | None:
    return None if seconds is None else 1000.0 * float(seconds)


def rows_of_trace(spans: list[dict], attrs_of: Any, unknown: Counter) -> list[tuple]:
    """One LiveKit trace (a session) as canonical event rows, in time order."""
    root = next((s for s in spans if s["name"] == ROOT), None)
    if root is None:
        return []
    trace = Trace(spans, root, attrs_of)
    trace.count_unknown(KNOWN, unknown, STRUCTURE)
    sid = root["traceId"]
    close = next((s for s in spans if s["name"] == "session_close"), None)
    reason = str(attrs_of(close).get("lk.close_reason", "unknown")) if close else "unknown"
    out: list[tuple[float, int, type, tuple]] = [
        (0.0, 0, ev.SessionStart, ("", sid, "", "inbound"))]
    by_start = sorted(spans, key=lambda s: int(s["startTimeUnixNano"]))
    user_turns = [s for s in by_start if s["name"] == "user_turn"]
    for n, turn in enumerate((s for s in by_start if s["name"] == "agent_turn"), 1):
        start = int(turn["startTimeUnixNano"])
        heard = [u for u in user_turns if int(u["endTimeUnixNano"]) <= start]
        user = heard[-1] if heard else None
        if user is not None:
            user_turns.remove(user)
        out += _turn_rows(trace, n, turn, user)
    end = trace.ms(root["endTimeUnixNano"])
    out.append((end, 0, ev.SessionEnd, (reason, "ended", end)))
    return numbered(out, sid)


def _turn_rows(trace: Trace, n: int, turn: dict, user: dict | None) -> list[tuple]:
    ms, attrs_of = trace.ms, trace.attrs_of
    a = attrs_of(turn)
    u = attrs_of(user) if user is not None else {}
    text = str(a.get("lk.pii.response.text", ""))
    rows: list[tuple[float, int, type, tuple]] = []
    speech_end = None
    for speaking in trace.descendants(user, "user_speaking") if user is not None else []:
        rows.append((ms(speaking["startTimeUnixNano"]), n, ev.UserSpeechStart, ()))
        speech_end = ms(speaking["endTimeUnixNano"])
        rows.append((speech_end, n, ev.UserSpeechEnd, ()))
    transcription = _ms(u.get("lk.transcription_delay"))
    end_of_turn = _ms(u.get("lk.end_of_turn_delay"))
    if speech_end is not None and end_of_turn is not None:
        transcript = str(u.get("lk.pii.user_transcript", ""))
        rows.append((speech_end + (transcription or 0.0), n, ev.SttFinal, (transcript,)))
        rows.append((speech_end + end_of_turn, n, ev.UserTurn, (transcript,)))
    else:  # text mode: the agent turn's input is the caller's turn
        rows.append((ms(turn["startTimeUnixNano"]), n, ev.UserTurn,
                     (str(a.get("lk.pii.user_input", "")),)))
    ttft = tools = None
    for request in trace.descendants(turn, "llm_request"):
        r = attrs_of(request)
        start = ms(request["startTimeUnixNano"])
        rows.append((start, n, ev.LlmRequest, ()))
        first = _ms(r.get("gen_ai.response.time_to_first_chunk"))
        if first is not None:
            rows.append((start + first, n, ev.LlmFirstToken, ()))
            ttft = first  # the last request's: the one whose answer is spoken
        rows.append((ms(request["endTimeUnixNano"]), n, ev.LlmResponse, (
            text, int(r.get("gen_ai.usage.input_tokens", 0)),
            int(r.get("gen_ai.usage.output_tokens", 0)))))
    for tool in trace.descendants(turn, "function_tool"):
        rows += _tool_rows(trace, n, tool)
        tools = (tools or 0.0) + ms(tool["endTimeUnixNano"]) - ms(tool["startTimeUnixNano"])
    tts_ttfb = None
    for node in trace.descendants(turn, "tts_node"):
        start = ms(node["startTimeUnixNano"])
        rows.append((start, n, ev.TtsRequest, (text,)))
        tts_ttfb = _ms(attrs_of(node).get("lk.response.ttfb"))
        if tts_ttfb is not None:
            rows.append((start + tts_ttfb, n, ev.TtsFirstAudio, ()))
    interrupted = bool(a.get("lk.interrupted", False))
    for speaking in trace.descendants(turn, "agent_speaking"):
        rows.append((ms(speaking["startTimeUnixNano"]), n, ev.AgentSpeechStart, ("reply",)))
        rows.append((ms(speaking["endTimeUnixNano"]), n, ev.AgentSpeechEnd,
                     (interrupted, "reply")))
    total = _ms(a.get("lk.e2e_latency"))
    end = ms(turn["endTimeUnixNano"])
    rows.append((end, n, ev.AgentTurn, (text,)))
    rows.append((end, n, ev.TurnEnd, (
        float("nan") if total is None else total,
        segments(transcription_ms=transcription, end_of_turn_ms=end_of_turn,
                 hooks_ms=_ms(a.get("lk.on_user_turn_completed_delay")), llm_ttft_ms=ttft,
                 tools_ms=tools, tts_ttfb_ms=tts_ttfb, total_ms=total),
        interrupted)))
    return rows


def _tool_rows(trace: Trace, n: int, tool: dict) -> list[tuple]:
    t = trace.attrs_of(tool)
    call_id, name = str(t.get("gen_ai.tool.call.id", "")), str(t.get("gen_ai.tool.name", ""))
    args = json_or_text(t.get("gen_ai.tool.call.arguments"))
    start, end = trace.ms(tool["startTimeUnixNano"]), trace.ms(tool["endTimeUnixNano"])
    failed = bool(t.get("lk.function_tool.is_error", False))
    return [(start, n, ev.ToolCall, (call_id, name, args if isinstance(args, dict) else {},
                                     str(t.get("gen_ai.agent.name", "")), "inline")),
            (end, n, ev.ToolResult, (call_id, name, t.get("lk.pii.function_tool.output"),
                                     "error" if failed else "completed", end - start,
                                     str(t.get("lk.pii.function_tool.output")) if failed
                                     else None))]

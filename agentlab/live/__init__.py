"""``al.live``: live calls on the real clock with real offline models (``live`` extra).

Example (not run in doctests: it loads speech models)::

    import agentlab as al
    from agentlab import live

    caller = live.AudioFileCaller(["hello.wav", "order.wav"])
    result = await live.run_live(runner, caller, recorder=al.Recorder())
    result.audio[0].perceived_latency(result.recorder.turns)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .. import events as ev
from ..errors import ConfigError
from .audio import AudioError, load_audio, mix_noise, to_mono16k
from .call import LiveStack
from .callers import AudioFileCaller, ScenarioCaller
from .llm import LLMError, OpenAIChat
from .llm_server import LocalLLMServer
from .models import PiperTTS, SileroVAD, WhisperSTT
from .recording import CallAudio
from .stream import LiveAudio, StreamCaller


def __getattr__(name: str):
    if name in ("Microphone", "MicrophoneCaller"):  # anywidget only when asked for
        from . import microphone

        return getattr(microphone, name)
    if name == "AgentVoice":
        from .voice import AgentVoice

        return AgentVoice
    raise AttributeError(f"module 'agentlab.live' has no attribute {name!r}")

__all__ = ["AgentVoice", "AudioError", "AudioFileCaller", "CallAudio", "LLMError",
           "LiveAudio", "LiveResult", "LiveStack", "LocalLLMServer", "Microphone",
           "MicrophoneCaller", "OpenAIChat", "PiperTTS", "ScenarioCaller", "SileroVAD",
           "StreamCaller", "WhisperSTT", "load_audio", "mix_noise", "run_live",
           "run_live_sync", "to_mono16k"]


@dataclass
class LiveResult:
    events: list
    calls: list
    audio: list[CallAudio]
    recorder: Any = None
    voice: Any = None  # the AgentVoice the call played at, if any
    speech_end_wall: dict | None = None  # turn -> wall ms the caller stopped speaking

    def perceived_at_page(self) -> Any:
        """Per turn: the latency a person at the page heard (end of the caller's speech
        -> the reply's first audio played at the page, from the page's own reports)
        next to the pipeline's ``total_e2e_ms``. Read it once the cell that ran the
        call is done (the page's reports reach the kernel between cells)."""
        import pandas as pd

        if self.voice is None:
            raise ValueError("this call was run without voice=live.AgentVoice(): no page "
                             "played it.")
        heard = self.voice.perceived(self.speech_end_wall or {})
        frame = pd.DataFrame({"turn_id": list(heard), "page_ms": list(heard.values())})
        if self.recorder is not None and len(frame):
            turns = self.recorder.turns[["turn_id", "total_e2e_ms"]]
            frame = frame.merge(turns, on="turn_id", how="left")
        return frame


async def run_live(runner: Any, caller: Any, *, realtime: bool = True,
                   recorder: Any = None, stack: LiveStack | None = None, seed: int = 0,
                   max_call_s: float = 600.0, call: Any = None,
                   voice: Any = None) -> LiveResult:
    """Run one live call of ``caller`` (an :class:`AudioFileCaller`, a
    :class:`ScenarioCaller` or a ``MicrophoneCaller``) through ``runner`` on the running
    loop's real clock.

    ``call=al.Outbound(number, answer=...)`` places it as an outbound call (rings first;
    the agent speaks first). ``realtime=False`` feeds the caller's audio and plays the
    agent's as fast as the models allow (for tests and batch runs); the events and tables
    have the same shape. ``voice=live.AgentVoice()`` (a widget shown in the notebook)
    plays the agent's audio at the page as it is produced (use it with ``realtime=True``).
    """
    from ..runtime.caller import CallPlan
    from ..runtime.simulate import (
        _Call,
        _check,
        _run_call,
        as_runner,
        check_run,
        distinct_sessions,
        placed_calls,
        profile_resolver,
        recorders_of,
    )
    from ..scenarios.model import Persona
    from .call import live_conversation

    runner = as_runner(runner)
    _check(runner, 1, 1, 1)
    check_run(seed, max_call_s, 5.0)
    stack = stack or LiveStack()
    await asyncio.get_running_loop().run_in_executor(None, stack.warm_up)
    stream = caller if isinstance(caller, StreamCaller) else \
        getattr(caller, "stream_caller", None)
    if stream is not None and not realtime:
        raise ConfigError("run_live(realtime=False): a streamed caller (the microphone) "
                          "speaks in real time; use realtime=True.")
    if not realtime and getattr(runner.pipeline, "options", {}).get("latency_budget"):
        raise ConfigError("run_live(realtime=False) with Pipeline(latency_budget=...): a "
                          "budget fires while the turn is in flight, in real time; use "
                          "realtime=True (or drop the budget).")
    plan = CallPlan(caller.turns(), Persona(max_follow_ups=0),
                    tools=getattr(caller, "tools", {}),
                    scenario_id=getattr(caller, "scenario_id", "live"),
                    next_turn=None if stream is None else stream.next_turn)
    recorders = recorders_of(runner, recorder)
    todo = [_Call(0, plan, profile_resolver(runner, None)(plan), prefix="live:")]
    placed, = distinct_sessions(todo if call is None else placed_calls(todo, call), recorders)
    sink: list = []
    result = await _run_call(runner, placed, seed, False, max_call_s, 5.0, sink, recorders,
                             live_conversation(stack, realtime, voice, stream))
    for rec in recorders:
        rec.flush()
    conv = result.session.conversation
    return LiveResult([ev.event_of(row) for row in sink], [result], [conv.audio], recorder,
                      voice, dict(conv.speech_end_wall))


def run_live_sync(runner: Any, caller: AudioFileCaller, **kw: Any) -> LiveResult:
    """:func:`run_live` for scripts (no running event loop)."""
    return asyncio.run(run_live(runner, caller, **kw))

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
from .audio import AudioError, load_audio, mix_noise, to_mono16k
from .call import LiveStack
from .callers import AudioFileCaller, ScenarioCaller
from .llm import LLMError, OpenAIChat
from .llm_server import LocalLLMServer
from .models import PiperTTS, SileroVAD, WhisperSTT
from .recording import CallAudio


def __getattr__(name: str):
    if name in ("Microphone", "MicrophoneCaller"):  # anywidget only when asked for
        from . import microphone

        return getattr(microphone, name)
    raise AttributeError(f"module 'agentlab.live' has no attribute {name!r}")

__all__ = ["AudioError", "AudioFileCaller", "CallAudio", "LLMError", "LiveResult",
           "Microphone", "MicrophoneCaller", "ScenarioCaller",
           "LiveStack", "LocalLLMServer", "OpenAIChat", "PiperTTS", "SileroVAD", "WhisperSTT",
           "load_audio", "mix_noise", "run_live", "run_live_sync", "to_mono16k"]


@dataclass
class LiveResult:
    events: list
    calls: list
    audio: list[CallAudio]
    recorder: Any = None


async def run_live(runner: Any, caller: Any, *, realtime: bool = True,
                   recorder: Any = None, stack: LiveStack | None = None, seed: int = 0,
                   max_call_s: float = 600.0, call: Any = None) -> LiveResult:
    """Run one live call of ``caller`` (an :class:`AudioFileCaller`, a
    :class:`ScenarioCaller` or a ``MicrophoneCaller``) through ``runner`` on the running
    loop's real clock.

    ``call=al.Outbound(number, answer=...)`` places it as an outbound call (rings first;
    the agent speaks first). ``realtime=False`` feeds the caller's audio and plays the
    agent's as fast as the models allow (for tests and batch runs); the events and tables
    have the same shape.
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
    plan = CallPlan(caller.turns(), Persona(max_follow_ups=0),
                    tools=getattr(caller, "tools", {}),
                    scenario_id=getattr(caller, "scenario_id", "live"))
    recorders = recorders_of(runner, recorder)
    todo = [_Call(0, plan, profile_resolver(runner, None)(plan), prefix="live:")]
    placed, = distinct_sessions(todo if call is None else placed_calls(todo, call), recorders)
    sink: list = []
    result = await _run_call(runner, placed, seed, False, max_call_s, 5.0, sink, recorders,
                             live_conversation(stack, realtime))
    for rec in recorders:
        rec.flush()
    return LiveResult([ev.event_of(row) for row in sink], [result],
                      [result.session.conversation.audio], recorder)


def run_live_sync(runner: Any, caller: AudioFileCaller, **kw: Any) -> LiveResult:
    """:func:`run_live` for scripts (no running event loop)."""
    return asyncio.run(run_live(runner, caller, **kw))

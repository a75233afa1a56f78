"""Test doubles shipped as public API.

:class:`ScriptedCall` drives a session's hooks through a call turn by turn, firing the
canonical events in the documented order at scripted instants (no models, no clock
waits), so hook code can be unit-tested in isolation.

Example
-------
>>> import asyncio, agentlab as al
>>> from agentlab.testing import ScriptedCall
>>> pipeline = al.Pipeline()
>>> @pipeline.on("llm")
... async def shout(data): return data["text"].upper()
>>> call = ScriptedCall(al.Session(pipeline=pipeline))
>>> asyncio.run(call.play([("hello", "hi there")]))
>>> call.spoken
['HI THERE']
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from .runtime import AgentRunner, CallContext, Session
from .runtime.turn_model import SpeechData, SpeechEvent


@dataclass
class ManualClock:
    """A clock the test moves by hand (ms)."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms


@dataclass
class ScriptedCall:
    """Plays ``(user_text, agent_reply)`` turns through a session's hooks.

    The STT stage yields the user text as a final transcript, the LLM "generates" the
    scripted reply, the ``llm`` chain and the ``tts`` slot run on it, and every lifecycle
    and framework hook fires at its documented instant. ``spoken`` holds what TTS was
    asked to say; ``events`` every canonical event.
    """

    session: Session
    runner: AgentRunner | None = None
    step_ms: float = 100.0
    clock: ManualClock = field(default_factory=ManualClock)
    spoken: list[str] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)

    async def play(self, turns: Iterable[tuple[str, str]], reason: str = "hangup") -> None:
        runner_regs = []
        ctx = CallContext(call_id=f"call-{self.session.session_id}",
                          session_id=self.session.session_id,
                          agent_id=self.runner.agent_id if self.runner else "agent",
                          session=self.session)
        if self.runner is not None:
            runner_regs = [self.runner.hook_registry, self.runner.hooks]
        bus = self.session.make_bus(context=ctx, extra=runner_regs, clock_ms=self.clock)
        bus.subscribe(self.events.append)
        await bus.fire("runner.call_start", ctx)
        await bus.emit(ev.SessionStart, ctx.agent_id, ctx.call_id, "", ctx.direction)
        for user_text, reply in turns:
            await self._turn(bus, user_text, reply)
        await bus.emit(ev.SessionEnd, reason, "ended", self.clock.now)
        await bus.drain()

    async def _turn(self, bus, user_text: str, reply: str) -> None:
        step = self.clock.advance
        bus.turn_id += 1
        await bus.emit(ev.UserSpeechStart)
        step(self.step_ms * 10)
        await bus.emit(ev.UserSpeechEnd)
        speech_end = self.clock.now
        step(self.step_ms)

        async def audio() -> AsyncIterator[bytes]:
            yield b"\0" * 640

        async def builtin_stt(stream: AsyncIterator[bytes]) -> AsyncIterator[SpeechEvent]:
            async for _chunk in stream:
                pass
            yield SpeechEvent("final", SpeechData(user_text))

        transcript = ""
        async for item in bus.stream_slot("stt", builtin_stt, audio()):
            transcript = item.data.text
        await bus.emit(ev.SttFinal, transcript)
        step(self.step_ms)
        await bus.emit(ev.UserTurn, transcript)
        await bus.emit(ev.LlmRequest)
        step(self.step_ms * 3)
        await bus.emit(ev.LlmFirstToken)
        step(self.step_ms)
        await bus.emit(ev.LlmResponse, reply, len(transcript.split()), len(reply.split()))
        final = await bus.run_chain("llm", reply)
        await bus.emit(ev.AgentTurn, final)

        async def text() -> AsyncIterator[str]:
            yield final

        async def builtin_tts(stream: AsyncIterator[str]) -> AsyncIterator[bytes]:
            async for chunk in stream:
                self.spoken.append(chunk)
                yield b"\0" * 320

        await bus.emit(ev.TtsRequest, final)
        step(self.step_ms)
        first = True
        async for _audio in bus.stream_slot("tts", builtin_tts, text()):
            if first:
                await bus.emit(ev.TtsFirstAudio)
                await bus.emit(ev.AgentSpeechStart, "reply")
                first = False
        start = self.clock.now
        step(self.step_ms * 10)
        await bus.emit(ev.AgentSpeechEnd, False, "reply")
        total = start - speech_end
        await bus.emit(ev.TurnEnd, total, (("pipeline", total),), False)


def hooks_fired(events: Iterable[Any]) -> list[str]:
    """``scope.hook handler`` for every ``hook_call`` event, in order (for asserts)."""
    return [f"{e.scope}.{e.hook} {e.handler}" for e in events if e.name == "hook_call"]

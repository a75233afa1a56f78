"""Dispatch of the pipeline's stream hooks: the ``llm`` chain, the ``stt``/``tts`` stream
slots (with ``run_stt``/``run_tts`` reaching the built-in stage from inside a handler) and
the chained ``vision_frame`` stream. Each handler call is isolated and timed like any
other (``HookBus.record_call``); its cost is its own time, not its upstream's."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable
from time import perf_counter_ns
from typing import Any

from ..errors import HookSignatureError
from .registry import HandlerEntry
from .spec import HOOK_SPECS, HookSpec

_SPEC_BY_KEY: dict[str, HookSpec] = {s.key: s for s in HOOK_SPECS}

# The built-in stage a stream-slot handler wraps, for run_stt()/run_tts() inside it.
_BUILTIN_STAGE: dict[str, contextvars.ContextVar] = {
    "stt": contextvars.ContextVar("agentlab_builtin_stt", default=None),
    "tts": contextvars.ContextVar("agentlab_builtin_tts", default=None),
}


def _run_builtin(name: str, stream: AsyncIterator) -> AsyncIterator:
    stage = _BUILTIN_STAGE[name].get()
    if stage is None:
        raise RuntimeError(
            f"run_{name}() runs the pipeline's built-in {name.upper()} stage and only works "
            f"inside a @pipeline.on({name!r}) hook while the pipeline runs it.")
    return stage(stream)


def run_stt(audio_stream: AsyncIterator[bytes]) -> AsyncIterator:
    """Run the pipeline's built-in STT stage on ``audio_stream`` (inside an ``stt`` hook)."""
    return _run_builtin("stt", audio_stream)


def run_tts(text_stream: AsyncIterator[str]) -> AsyncIterator[bytes]:
    """Run the pipeline's built-in TTS stage on ``text_stream`` (inside a ``tts`` hook)."""
    return _run_builtin("tts", text_stream)


class _Passthrough:
    """Wraps an async iterator so a user generator cannot close it; times the upstream."""

    __slots__ = ("_it", "ns")

    def __init__(self, it: AsyncIterator):
        self._it = it.__aiter__()
        self.ns = 0  # wall time spent producing items upstream (not the hook's cost)

    def __aiter__(self):
        return self

    async def __anext__(self):
        t0 = perf_counter_ns()
        try:
            return await self._it.__anext__()
        finally:
            self.ns += perf_counter_ns() - t0


# -- chain (llm) ------------------------------------------------------------------------
async def run_chain(bus: Any, name: str, text: str) -> str:
    """Run the ``llm`` chain: each handler sees ``{"text": current}`` and may replace it by
    returning a str or yielding str chunks; None passes it through. A failing handler
    passes its input through. Returns the final text."""
    key = f"pipeline.{name}"
    spec = _SPEC_BY_KEY[key]
    for entry in bus.entries(key):
        start_ms = bus.now_ms()
        t0 = perf_counter_ns()
        ok = True
        try:
            new = await _chain_step(entry, {"text": text})
        except Exception as err:
            ok = False
            new = None
            await bus.handler_failed(spec, entry, err)
        if new is not None:
            text = new
        bus.record_call(spec, entry, start_ms, perf_counter_ns() - t0, ok)
    return text


async def _chain_step(entry: HandlerEntry, data: dict) -> str | None:
    if entry.is_gen:
        chunks = [chunk async for chunk in entry.fn(data)]
        bad = [c for c in chunks if not isinstance(c, str)]
        if bad:
            raise HookSignatureError(
                f"llm hook {entry.qualname} yielded {type(bad[0]).__name__}; yield str "
                f"chunks (they are joined into the new text).")
        return "".join(chunks) if chunks else None
    new = await entry.fn(data)
    if new is not None and not isinstance(new, str):
        raise HookSignatureError(
            f"llm hook {entry.qualname} returned {type(new).__name__}; return a str to "
            f"replace the text, or None to pass it through.")
    return new


# -- stream slot (stt, tts) -------------------------------------------------------------
def stream_slot(bus: Any, name: str, builtin: Callable[[AsyncIterator], AsyncIterator],
                stream: AsyncIterator) -> AsyncIterator:
    """Run the ``stt``/``tts`` slot over ``stream``: the registered handler if any (with
    ``run_stt``/``run_tts`` bound to ``builtin``), else ``builtin`` itself (no wrapper on
    the way). If the handler raises, the rest of the stream goes through ``builtin``."""
    entries = bus.entries(f"pipeline.{name}")
    if not entries:
        return builtin(stream)
    return _handled_slot(bus, name, entries[0], builtin, stream)


async def _handled_slot(bus: Any, name: str, entry: HandlerEntry, builtin: Callable,
                        stream: AsyncIterator) -> AsyncIterator:
    spec = _SPEC_BY_KEY[f"pipeline.{name}"]
    upstream = _Passthrough(stream)
    inner_ns = [0]

    def timed_builtin(s: AsyncIterator) -> AsyncIterator:
        inner = _Passthrough(builtin(s))
        inner_ns.append(inner)  # keep a handle to subtract its time later
        return inner

    token = _BUILTIN_STAGE[name].set(timed_builtin)
    start_ms = bus.now_ms()
    # The hook's cost is the time spent inside its __anext__ calls (not while it is
    # suspended at a yield and the consumer runs), minus what upstream and the built-in
    # stage took inside them.
    handler = _Passthrough(entry.fn(upstream))
    ok = True
    try:
        async for item in handler:
            yield item
    except Exception as err:
        ok = False
        await bus.handler_failed(spec, entry, err)
        async for item in builtin(upstream):  # fall back for the rest of the stream
            yield item
    finally:
        _BUILTIN_STAGE[name].reset(token)
        spent = handler.ns - upstream.ns - sum(i.ns for i in inner_ns[1:])
        bus.record_call(spec, entry, start_ms, max(spent, 0), ok)


# -- chained stream (vision_frame) ------------------------------------------------------
def chained_stream(bus: Any, name: str, stream: AsyncIterator) -> AsyncIterator:
    """Wrap ``stream`` with every ``vision_frame`` handler in registration order; a
    handler that raises is bypassed for the rest of the stream."""
    key = f"pipeline.{name}"
    for entry in bus.entries(key):
        stream = _guarded_link(bus, _SPEC_BY_KEY[key], entry, stream)
    return stream


async def _guarded_link(bus: Any, spec: HookSpec, entry: HandlerEntry,
                        stream: AsyncIterator) -> AsyncIterator:
    upstream = _Passthrough(stream)
    link = _Passthrough(entry.fn(upstream))
    start_ms = bus.now_ms()
    ok = True
    try:
        async for item in link:
            yield item
    except Exception as err:
        ok = False
        await bus.handler_failed(spec, entry, err)
        async for item in upstream:
            yield item
    finally:  # one hook_call per link and stream: its own time, not the upstream's
        bus.record_call(spec, entry, start_ms, max(link.ns - upstream.ns, 0), ok)

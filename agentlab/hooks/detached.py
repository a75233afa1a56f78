"""Hooks that never hold up the emitting stage: fire-and-forget framework handlers, and the
side-effect-only ``agent_turn_start``/``agent_turn_end`` lifecycle handlers, which run
beside the agent's audio (../shared/ARCHITECTURE.md section 1).

On virtual time a handler runs at its event's instant: a plain def is called, an async
one is driven to its first suspension (:func:`run_eagerly`) and finished in a task only
if it suspends. On real time (live calls) each runs in a task, so its wall time never
holds up the audio. Either way the call is timed and recorded (``HookBus.record_call``),
a failure becomes an error event, and ``HookBus.drain`` waits for what is still running
when the session ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from time import perf_counter_ns
from typing import Any

from .eager import run_eagerly
from .registry import HandlerEntry
from .spec import HookSpec

DRAIN_S = 5.0  # how long detached handlers may run on after their session ended


def fire_and_forget(bus: Any, spec: HookSpec, entries: tuple[HandlerEntry, ...],
                    args: tuple) -> None:
    """Call each handler without waiting for it; none delays another or the stage."""
    turn = bus.turn_id
    if bus.on_virtual_time():
        for entry in entries:
            _run_inline(bus, spec, entry, args, turn)
    else:
        for entry in entries:
            bus.spawn(_run_in_order(bus, spec, (entry,), args, turn))


def beside(bus: Any, spec: HookSpec, entries: tuple[HandlerEntry, ...], args: tuple) -> None:
    """Run side-effect-only handlers in order without holding up the stage: each starts
    when the one before it is done, the first at once."""
    turn = bus.turn_id
    if not bus.on_virtual_time():
        bus.spawn(_run_in_order(bus, spec, entries, args, turn))
        return
    for i, entry in enumerate(entries):
        rest = _run_inline(bus, spec, entry, args, turn, finish=False)
        if rest is not None:  # it suspended: it and the handlers after it go on in a task
            bus.spawn(_go_on(bus, spec, entry, rest, entries[i + 1:], args, turn),
                      context=rest[0])
            return


def _run_inline(bus: Any, spec: HookSpec, entry: HandlerEntry, args: tuple, turn: int,
                finish: bool = True) -> tuple | None:
    """Call one handler now. If it suspends, its remainder is finished in a task
    (``finish``) or handed back as ``(context, remainder, start_ms, t0)``."""
    start_ms = bus.now_ms()
    t0 = perf_counter_ns()
    context = contextvars.copy_context()
    try:
        result = context.run(entry.fn, *args)
        if inspect.iscoroutine(result):
            result = run_eagerly(result, context)
        elif not inspect.isawaitable(result):
            result = None
    except (Exception, asyncio.CancelledError) as err:
        bus.record_call(spec, entry, start_ms, perf_counter_ns() - t0, False, turn)
        if isinstance(err, Exception):
            bus.spawn(bus.handler_failed(spec, entry, err, detached=True, turn_id=turn))
        return None
    if result is None:
        bus.record_call(spec, entry, start_ms, perf_counter_ns() - t0, True, turn)
        return None
    if not finish:
        return context, result, start_ms, t0
    bus.spawn(_finish(bus, spec, entry, result, start_ms, t0, turn), context=context)
    return None


async def _go_on(bus: Any, spec: HookSpec, entry: HandlerEntry, suspended: tuple,
                 later: tuple[HandlerEntry, ...], args: tuple, turn: int) -> None:
    _, rest, start_ms, t0 = suspended
    await _finish(bus, spec, entry, rest, start_ms, t0, turn)
    await _run_in_order(bus, spec, later, args, turn)


async def _run_in_order(bus: Any, spec: HookSpec, entries: tuple[HandlerEntry, ...],
                        args: tuple, turn: int) -> None:
    for entry in entries:
        start_ms = bus.now_ms()
        t0 = perf_counter_ns()
        try:
            result = entry.fn(*args)  # an async def's coroutine, or a plain def's value
        except Exception as err:
            bus.record_call(spec, entry, start_ms, perf_counter_ns() - t0, False, turn)
            await bus.handler_failed(spec, entry, err, detached=True, turn_id=turn)
            continue
        await _finish(bus, spec, entry, result, start_ms, t0, turn)


async def _finish(bus: Any, spec: HookSpec, entry: HandlerEntry, result: Any,
                  start_ms: float, t0: int, turn: int) -> None:
    """Await what a handler returned or left suspended and record the call, however it
    ends."""
    ok = True
    try:
        if inspect.isawaitable(result):
            await result
    except Exception as err:
        ok = False
        await bus.handler_failed(spec, entry, err, detached=True, turn_id=turn)
    except asyncio.CancelledError:  # still running when the session closed (drain)
        bus.record_call(spec, entry, start_ms, perf_counter_ns() - t0, False, turn)
        await bus.emit_error(f"hook:{spec.name}", f"{entry.qualname} was still running "
                             f"when the session ended and was cancelled; a "
                             f"fire-and-forget handler must finish within drain's "
                             f"{DRAIN_S:g} s", handler=entry.qualname, severity="warn",
                             fire_hooks=False, turn_id=turn)
        raise
    bus.record_call(spec, entry, start_ms, perf_counter_ns() - t0, ok, turn)

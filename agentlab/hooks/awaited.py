"""Awaited (observe) dispatch: a hook's handlers called in order and awaited, each one
isolated (an exception becomes an ``error`` event, the next handler runs) and timed."""

from __future__ import annotations

from time import perf_counter, perf_counter_ns
from typing import Any

from .registry import HandlerEntry
from .spec import HookSpec


async def observe(bus: Any, spec: HookSpec, entries: tuple[HandlerEntry, ...],
                  args: tuple) -> None:
    """Call each of ``entries`` with ``args`` and await it, in order."""
    if bus.listening:
        return await _observe_recorded(bus, spec, entries, args)
    # Hot path: one clock read per handler boundary; float seconds avoid allocating big
    # ints on every read (the clock dominates dispatch cost).
    clock = perf_counter
    t0 = clock()
    for entry in entries:
        try:
            await entry.fn(*args)
        except Exception as err:
            await bus.handler_failed(spec, entry, err)
        t1 = clock()
        entry.calls += 1
        entry.total_s += t1 - t0
        t0 = t1


async def _observe_recorded(bus: Any, spec: HookSpec, entries: tuple[HandlerEntry, ...],
                            args: tuple) -> None:
    """The same, each call a ``hook_call`` row (session-clock start and wall ns)."""
    now, record = bus.now_ms, bus.record_call
    for entry in entries:
        start_ms = now()
        t0 = perf_counter_ns()
        ok = True
        try:
            await entry.fn(*args)
        except Exception as err:
            ok = False
            await bus.handler_failed(spec, entry, err)
        record(spec, entry, start_ms, perf_counter_ns() - t0, ok)

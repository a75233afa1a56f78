"""Run a coroutine now, up to its first suspension, and finish it in a task only if it
suspends (what Python 3.12's eager tasks do, for 3.11).

A fire-and-forget or side-effect-only handler usually returns without ever waiting; a
task per call would cost more than the handler and would run it only when the emitting
stage next yields (later on the session clock). :func:`run_eagerly` calls it at the
event's instant instead, in a copy of the current context as a task would.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any


def run_eagerly(coro: Coroutine, context: contextvars.Context) -> Coroutine | None:
    """Drive ``coro`` in ``context`` until it first suspends. None when it finished (its
    exception, if any, is raised here); else a coroutine that finishes it, to be run in
    a task in the same ``context``."""
    try:
        yielded = context.run(coro.send, None)
    except StopIteration:
        return None
    return _resume(coro, yielded)


async def _resume(coro: Coroutine, yielded: Any) -> Any:
    """Go on with a coroutine suspended on ``yielded`` (a future, or None for a bare
    yield), as the task running it would have: wait, then resume; a cancellation while
    waiting is thrown into it."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await _Blocked(yielded)
        except BaseException as err:  # cancelled: the handler sees it where it waits
            try:
                yielded = coro.throw(err)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


class _Blocked:
    """Awaits a future the coroutine is blocked on without taking its result: the
    coroutine's own ``await`` takes it (or its exception) when resumed."""

    __slots__ = ("fut",)

    def __init__(self, fut: Any):
        self.fut = fut

    def __await__(self):
        if not self.fut.done():
            yield self.fut  # still marked blocking by the future's own __await__

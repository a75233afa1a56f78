"""Virtual time: an asyncio loop whose clock jumps to the next timer when idle.

Inside :class:`VirtualTimeLoop`, ``asyncio.sleep``, ``loop.time()``, ``asyncio.wait_for``
and every timer run on virtual time: when no callback is ready and no I/O is waiting, the
clock jumps straight to the next scheduled timer, so a 5-minute simulated call takes
milliseconds and is exactly reproducible. While thread-pool work (``run_in_executor``,
``asyncio.to_thread``) is pending, the loop waits in real time instead, so a timeout never
fires falsely because a thread has not finished yet.

Why not ``looptime``: it patches the loop per test and is 2-27x slower on this workload
(REFERENCE.md §4); this loop changes one thing, the selector's wait.

Running from a notebook: :func:`run_in_thread` runs a coroutine on a fresh virtual loop in
a worker thread and awaits it from the caller's loop, polling so that cancelling the cell
cancels the simulation promptly.

Example
-------
>>> import asyncio
>>> from agentlab.clock import run_virtual
>>> async def wait_an_hour():
...     await asyncio.sleep(3600)
...     return asyncio.get_running_loop().time()
>>> run_virtual(wait_an_hour())
3600.0
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import selectors
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# While threads work, wait for them in real time in slices this long (seconds).
_REAL_WAIT_SLICE = 0.05
# advance() yields to the loop at least this often, so cross-thread wake-ups (a notebook
# cancelling the simulation) are never starved by a long run of fast-forwards.
YIELD_EVERY = 512
_NO_TIMER = 1 << 62  # a horizon past any simulated instant


class _AutojumpSelector:
    """Wraps a real selector; an idle wait advances the loop's virtual clock instead."""

    def __init__(self, loop: VirtualTimeLoop, selector: selectors.BaseSelector):
        self._loop = loop
        self._selector = selector
        self._skipped = 0

    def select(self, timeout: float | None = None):
        loop = self._loop
        if timeout is not None and timeout <= 0:
            # Callbacks are ready. With no thread at work, only a cross-thread wake-up
            # could be waiting, so poll for I/O one time in YIELD_EVERY: the syscall
            # would otherwise cost more than a simulated stage.
            self._skipped += 1
            if loop._pending_threads or self._skipped % YIELD_EVERY == 0:
                return self._selector.select(0)
            return []
        if loop._pending_threads:
            # real work is under way in threads: let real time pass
            slice_s = _REAL_WAIT_SLICE if timeout is None else min(timeout, _REAL_WAIT_SLICE)
            return self._selector.select(slice_s)
        ready = self._selector.select(0)
        if ready or timeout is None:
            # timeout None: nothing is scheduled; only I/O or another thread can wake us
            return ready or self._selector.select(timeout)
        if loop._deadlocked():
            return []  # the bounded waits were told; their callbacks are ready now
        loop._now_us += round(timeout * 1e6)  # to the next timer (on the microsecond grid)
        return []

    def __getattr__(self, name: str) -> Any:  # register/unregister/modify/get_map/close
        return getattr(self._selector, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time starting at 0.0 s (see the module docstring)."""

    def __init__(self) -> None:
        # Integer microseconds: a delay then moves every clock by exactly the same amount
        # wherever it starts, so a call's instants do not depend on what ran before it
        # (float seconds would round differently at different offsets).
        self._now_us = 0
        self._pending_threads = 0
        self._advances = 0
        self._limits: dict[asyncio.TimerHandle, asyncio.Future] = {}  # bounded_wait's
        super().__init__(_AutojumpSelector(self, selectors.DefaultSelector()))
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._now_us / 1e6

    def time_us(self) -> int:
        """The clock in whole microseconds (exact; subtract these, not float times)."""
        return self._now_us

    def ms_since(self, start_us: int) -> Callable[[], float]:
        """A clock reading ms since ``start_us`` (a :meth:`time_us` reading): whole
        microseconds subtracted, so a call's instants are the same bits whenever it
        starts. The simulator's hottest read (no method call inside)."""
        return lambda: (self._now_us - start_us) / 1000.0

    def call_later(self, delay, callback, *args, context=None):
        when_us = self._now_us + max(0, round(delay * 1e6))
        return super().call_at(when_us / 1e6, callback, *args, context=context)

    def call_at(self, when, callback, *args, context=None):
        return super().call_at(round(when * 1e6) / 1e6, callback, *args, context=context)

    def advance(self, delay_s: float) -> bool:
        """Move the clock ``delay_s`` forward *without yielding*, when that is exactly what
        sleeping would do: nothing is ready to run, no timer falls due first and no thread
        is working, so the loop's next step would be to jump to this very wake-up. Returns
        False (the caller must really sleep) otherwise. This turns a simulated call's
        private stage waits into additions and keeps the schedule identical."""
        if self._ready or self._pending_threads:
            return False
        when_us = self._now_us + round(delay_s * 1e6)
        scheduled = self._scheduled
        # timers sit on the microsecond grid (call_at), so comparing the float seconds
        # is comparing the microseconds, one call and one rounding cheaper
        if scheduled and scheduled[0]._when <= when_us / 1e6:
            return False
        self._advances += 1
        if self._advances % YIELD_EVERY == 0:
            return False
        self._now_us = when_us
        return True

    def horizon_us(self) -> int:
        """The clock may jump straight to any instant *before* this one (whole µs)
        without yielding, as :meth:`advance` would: the next timer's instant, or -1
        when callbacks are ready or threads are working (nothing may jump then). For
        code that moves the clock many times in a row (``Conversation.play``); it
        must recheck after anything that may schedule work, and still yield every
        ``YIELD_EVERY`` jumps (counted in ``_advances``)."""
        if self._ready or self._pending_threads:
            return -1
        scheduled = self._scheduled
        return round(scheduled[0]._when * 1e6) if scheduled else _NO_TIMER

    def _deadlocked(self) -> bool:
        """Nothing is ready, no thread works, no I/O waits and every timer left is a
        :func:`bounded_wait` limit: no awaited thing can ever happen, so jumping to a
        limit would only hide a deadlock. Each bounded wait is told now ("deadlock")."""
        live_timers = len(self._scheduled) - self._timer_cancelled_count
        if not self._limits or live_timers != len(self._limits):
            return False
        for handle, fut in list(self._limits.items()):
            handle.cancel()
            if not fut.done():
                fut.set_result("deadlock")
        self._limits.clear()
        return True

    @contextlib.contextmanager
    def real_time(self):
        """While inside, the clock does not jump: the loop waits in real time, as it
        does for thread-pool work. For waits on the outside world (a person typing the
        caller's next line), which must not let virtual timers fire meanwhile."""
        self._pending_threads += 1
        try:
            yield
        finally:
            self._pending_threads -= 1

    def run_in_executor(self, executor, func, *args):
        fut = super().run_in_executor(executor, func, *args)
        self._pending_threads += 1

        def done(_f):
            self._pending_threads -= 1

        fut.add_done_callback(done)
        return fut


async def bounded_wait(aws: set[asyncio.Future], timeout_s: float) -> str | None:
    """Wait until one of ``aws`` is done (None), ``timeout_s`` has passed ("limit"), or,
    on virtual time, nothing can ever make one of them done ("deadlock": every task is
    blocked on something no timer, thread or I/O will deliver). On a real-time loop a
    deadlock looks like waiting, so only the limit applies there."""
    loop = asyncio.get_running_loop()
    limit = loop.create_future()
    handle = loop.call_later(max(timeout_s, 0.0), _set_result, limit, "limit")
    limits = getattr(loop, "_limits", None)
    if limits is not None:
        limits[handle] = limit
    try:
        await asyncio.wait({*aws, limit}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        handle.cancel()
        if limits is not None:
            limits.pop(handle, None)
    if any(a.done() for a in aws):
        return None
    return limit.result() if limit.done() else "limit"


def _set_result(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a new :class:`VirtualTimeLoop` (scripts, tests)."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


async def run_in_thread(make_coro, poll_s: float = 0.05) -> Any:
    """Await ``make_coro()`` run on a virtual loop in a worker thread, from a running loop
    (a Jupyter cell). Cancelling the awaiting task cancels the simulation within about
    ``poll_s`` and joins the thread, so nothing keeps running."""
    result: concurrent.futures.Future = concurrent.futures.Future()
    holder: dict[str, Any] = {}

    def worker() -> None:
        loop = VirtualTimeLoop()
        holder["loop"] = loop
        try:
            task = loop.create_task(make_coro())
            holder["task"] = task
            result.set_result(loop.run_until_complete(task))
        except BaseException as err:
            if not result.done():
                result.set_exception(err)
        finally:
            try:
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    thread = threading.Thread(target=worker, name="agentlab-simulation", daemon=True)
    thread.start()
    try:
        # polling (not an Event) keeps the awaiting cell interruptible (REFERENCE §4)
        while not result.done():  # noqa: ASYNC110
            await asyncio.sleep(poll_s)
        return result.result()
    except asyncio.CancelledError:
        loop, task = holder.get("loop"), holder.get("task")
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 5.0)
        raise


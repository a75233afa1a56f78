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
import selectors
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# While threads work, wait for them in real time in slices this long (seconds).
_REAL_WAIT_SLICE = 0.05


class _AutojumpSelector:
    """Wraps a real selector; an idle wait advances the loop's virtual clock instead."""

    def __init__(self, loop: VirtualTimeLoop, selector: selectors.BaseSelector):
        self._loop = loop
        self._selector = selector

    def select(self, timeout: float | None = None):
        loop = self._loop
        if timeout is not None and timeout <= 0:
            return self._selector.select(0)
        if loop._pending_threads:
            # real work is under way in threads: let real time pass
            slice_s = _REAL_WAIT_SLICE if timeout is None else min(timeout, _REAL_WAIT_SLICE)
            return self._selector.select(slice_s)
        ready = self._selector.select(0)
        if ready or timeout is None:
            # timeout None: nothing is scheduled; only I/O or another thread can wake us
            return ready or self._selector.select(timeout)
        loop._now += timeout
        return []

    def __getattr__(self, name: str) -> Any:  # register/unregister/modify/get_map/close
        return getattr(self._selector, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time starting at 0.0 s (see the module docstring)."""

    def __init__(self) -> None:
        self._now = 0.0
        self._pending_threads = 0
        super().__init__(_AutojumpSelector(self, selectors.DefaultSelector()))
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._now

    def run_in_executor(self, executor, func, *args):
        fut = super().run_in_executor(executor, func, *args)
        self._pending_threads += 1

        def done(_f):
            self._pending_threads -= 1

        fut.add_done_callback(done)
        return fut


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


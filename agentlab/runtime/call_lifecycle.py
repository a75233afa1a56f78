"""One call from runner ``call_start`` to ``call_end``, on every way out.

The session ends, the entrypoint raises (before or during ``session.run()``) or returns
without running it, a runner hook raises, the time limit passes, or nothing can ever run
again (a deadlock on virtual time): each way, ``session_end`` and so every ``call_end``
hook fire exactly once, at the instant the call ended (ARCHITECTURE §5: no call hangs a
simulation).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
from pathlib import Path
from typing import Any

from ..clock import bounded_wait
from .agent_session import CURRENT_CALL
from .runner import AgentRunner, CallContext

_AGENTLAB = str(Path(__file__).parents[1])


async def play_call(runner: AgentRunner, ctx: CallContext, conv: Any, strict: bool,
                    max_call_s: float, grace_s: float) -> None:
    """Run the entrypoint for one call and end the call on every way out; in strict mode
    the handler's (or the entrypoint's) own exception is raised after that."""
    bus = ctx.session.bus
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_call_s
    entry = finished = reported = None
    try:
        await bus.fire("runner.call_start", ctx)
        if not await _answered(conv, ctx):  # an outbound call nobody picked up
            return await _finish(bus, strict, None)
        token = CURRENT_CALL.set(ctx)  # the entrypoint's task sees its call
        try:
            entry = asyncio.ensure_future(runner.entrypoint(ctx))
        finally:
            CURRENT_CALL.reset(token)
        finished = conv.finished.future()
        why = await bounded_wait({entry, finished}, max_call_s)
        if entry.done() and not finished.done():
            err = None if entry.cancelled() else entry.exception()
            if err is not None:
                reported = err
                await _entrypoint_failed(conv, err)
            elif not conv.started:
                await bus.emit_error("entrypoint", "the entrypoint returned without running "
                                     "the session; await ctx.session.run() in it",
                                     severity="warn")
                await conv.close_unstarted("entrypoint_returned", "ended")
            else:  # the session runs in a task the entrypoint started; let it finish
                why = await bounded_wait({finished}, deadline - loop.time())
        if not conv.finished.is_set():  # (the waiting task may not have seen it yet)
            if why == "deadlock":
                await bus.emit_error("call", _deadlock_message(conv, entry), severity="error")
            else:
                await bus.emit_error("call", f"call exceeded the time limit of "
                                     f"{max_call_s:g} s and was ended; raise it with "
                                     f"max_call_s=", severity="warn")
            await _end(conv, "timeout", conv.final_state)
    except Exception as err:  # a runner hook raised (strict) before the session ran
        await _entrypoint_failed(conv, err, component="runner")
    except asyncio.CancelledError:  # the whole run was cancelled (a notebook cell stopped)
        if not conv.finished.is_set():
            await _end(conv, "cancelled", "cancelled")
        if entry is not None:
            entry.cancel()
            await asyncio.gather(entry, return_exceptions=True)
        raise
    if entry is not None and not entry.done():  # session over: a grace period, then cancel
        if await bounded_wait({entry}, grace_s) is not None:
            entry.cancel()
            await asyncio.gather(entry, return_exceptions=True)
            await bus.emit_error("entrypoint", f"entrypoint still running {grace_s:g} s "
                                 f"after its session ended and was cancelled; end "
                                 f"background loops when the call ends, or raise grace_s=",
                                 severity="warn")
    late = _entry_error(entry)  # raised after its session had ended
    if late is not None and late is not reported and late is not bus.strict_error:
        await bus.emit_error("entrypoint", late, severity="fatal")
    await _finish(bus, strict, entry)


async def _finish(bus: Any, strict: bool, entry: asyncio.Future | None) -> None:
    await bus.drain()
    if strict:
        failure = bus.strict_error or _entry_error(entry)
        if failure is not None:
            raise failure


async def _answered(conv: Any, ctx: CallContext) -> bool:
    """An outbound call rings first (on the session clock). Busy ends it at once, no
    answer after ``no_answer_ms``: the entrypoint never runs, the session is closed with
    that reason. Answered by a person or by voicemail, the call goes on; the entrypoint
    sees which in ``ctx.answered_by``."""
    setup = conv.plan.call
    if setup.direction != "outbound":
        return True
    wait = {"busy": 0.0, "no_answer": setup.no_answer_ms}.get(setup.answer, setup.ring_ms)
    await asyncio.sleep(wait / 1000.0)
    if setup.answer in ("busy", "no_answer"):
        ctx.answered_by = None
        await conv.close_unstarted(setup.answer, "ended")
        return False
    ctx.answered_by = "voicemail" if setup.answer == "voicemail" else "human"
    return True


def _entry_error(entry: asyncio.Future | None) -> BaseException | None:
    if entry is None or not entry.done() or entry.cancelled():
        return None
    return entry.exception()


async def _entrypoint_failed(conv: Any, err: BaseException,
                             component: str = "entrypoint") -> None:
    """The entrypoint (or a runner hook) raised: the call fails with its error row, and
    its session ends (closed here if it never ran)."""
    if conv.started:
        await conv.fail(component, err)
        conv.stop("error")  # the session may be stuck where end() does not reach
        await conv.finished.wait()
    else:
        if err is not conv.session.bus.strict_error:
            await conv.session.bus.emit_error(component, err, severity="fatal")
        await conv.close_unstarted("error", "failed")


async def _end(conv: Any, reason: str, final_state: str) -> None:
    """End the call now, whether or not its session loop ever ran, wherever it is."""
    if conv.started:
        conv.final_state = final_state
        conv.stop(reason)
        await conv.finished.wait()
    else:
        await conv.close_unstarted(reason, final_state)


def _deadlock_message(conv: Any, entry: asyncio.Future | None) -> str:
    """Say what the call was stuck on: the innermost code outside agentlab awaiting, in
    the session's task or a task it started (an entrypoint awaiting ``Session.run()`` is
    only waiting for the session, so it is named only when nothing else is)."""
    first = conv.task if conv.task is not None else entry
    tasks = [first, *(t for t in asyncio.all_tasks() if t is not first)]
    found = [w for t in tasks if isinstance(t, asyncio.Task) and (w := _awaiting(t))]
    inner = [w for w in found if not w.endswith("awaiting Session.run()")]
    where = (inner or found or [None])[0]
    at = f" in {where}" if where else ""
    return (f"call deadlocked at {conv.now():.0f} ms: nothing left to run and no timer "
            f"due (the call was waiting{at}); it was ended as timeout. An await that "
            f"nothing resolves (a hook, a tool or the entrypoint) never returns")


def _awaiting(task: asyncio.Task) -> str | None:
    """The innermost frame of ``task``'s await chain outside agentlab and asyncio, and
    what it awaits: ``stuck() at app.py:12, awaiting Event.wait()``."""
    user = awaited = None
    obj: Any = task.get_coro()
    for _ in range(200):  # an await chain is short; a cycle must not loop forever
        code = getattr(obj, "cr_code", None) or getattr(obj, "ag_code", None)
        if code is None:
            if type(obj).__name__.startswith("async_generator_"):
                # `async for` awaits the generator's asend: step into the generator
                gens = [g for g in gc.get_referents(obj) if inspect.isasyncgen(g)]
                if gens:
                    obj = gens[0]
                    continue
            if obj is not None and awaited is None and user is not None:
                awaited = type(obj).__qualname__
            break
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
        if not code.co_filename.startswith(_AGENTLAB) and "asyncio" not in code.co_filename:
            line = frame.f_lineno if frame is not None else code.co_firstlineno
            user = f"{code.co_qualname}() at {Path(code.co_filename).name}:{line}"
            awaited = None
        elif user is not None and awaited is None:
            awaited = f"{code.co_qualname}()"
        obj = getattr(obj, "cr_await", None) if hasattr(obj, "cr_await") else \
            getattr(obj, "ag_await", None)
    if user is None:
        return None
    return f"{user}, awaiting {awaited}" if awaited else user

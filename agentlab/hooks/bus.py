"""The event bus: emits canonical events and dispatches every hook kind.

One :class:`HookBus` serves one session. ``await bus.emit(events.UserTurn, text)`` stamps
the event (``seq``, ``t_ms``), hands it to subscribers (the recorder), and fires the seed
hooks that are views of it, in spec-table order. Stages call :meth:`HookBus.run_chain`
(``llm``), :meth:`HookBus.stream_slot` (``stt``/``tts``) and
:meth:`HookBus.chained_stream` (``vision_frame``).

Every user handler call is isolated and timed: an exception becomes an ``error`` event
(component ``hook:<name>``) that also fires ``on_error``, and the call goes on, unless the
bus is ``strict``, in which case the exception propagates. Each call's wall time
accumulates on its handler entry and, when anybody subscribes, is emitted as a
``hook_call`` event.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

from .. import events as ev
from . import awaited, detached, streams
from .detached import DRAIN_S
from .registry import HandlerEntry, HookRegistry
from .spec import HOOK_SPECS, Dispatch, HookSpec
from .streams import run_stt, run_tts
from .tables import dispatch_tables, holds

__all__ = ["DRAIN_S", "HookBus", "run_stt", "run_tts"]

log = logging.getLogger("agentlab.hooks")

_reported_handlers: set[str] = set()  # log each broken handler's traceback once per process


def _loop_clock_ms() -> float:
    return asyncio.get_running_loop().time() * 1e3


class HookBus:
    """Canonical-event bus and hook dispatcher for one session.

    Parameters
    ----------
    session_id:
        Stamped on every event.
    registries:
        The registries whose hooks this session fires (runner, session, pipeline,
        framework ones), in any order; dispatch follows the spec table's order.
    context:
        Passed to runner hooks (the ``CallContext``).
    clock_ms:
        The session clock in ms (virtual in simulations). Defaults to the running
        loop's ``time()``.
    strict:
        Re-raise handler exceptions instead of isolating them (for tests).
    """

    def __init__(self, session_id: str, registries: Iterable[HookRegistry] = (), *,
                 context: Any = None, clock_ms: Callable[[], float] | None = None,
                 strict: bool = False):
        self.session_id = session_id
        self.context = context
        self.strict = strict
        self.turn_id = 0
        self.seq = 0
        self._clock_ms = clock_ms or _loop_clock_ms
        self._t0: float | None = None
        self._subscribers: list[Callable[[ev.Event], Any]] = []  # want event objects
        self._row_sinks: list[Callable[[tuple], Any]] = []  # want rows (ev.row_of)
        self._listening = False  # anyone subscribed: events and hook calls are published
        self._tasks: set[asyncio.Future] = set()
        self._deferred: BaseException | None = None
        self._session_ending = False
        self._on_virtual_time: bool | None = None
        # strict: the first handler exception re-raised (or deferred); the runner raises it
        # out of the simulation once the call has ended, whatever caught it on the way
        self.strict_error: BaseException | None = None
        self._registries = list(registries)
        for reg in self._registries:
            reg.attach(self)
        self._flat: dict[str, tuple[HandlerEntry, ...]] = {}
        self._views: dict[str, list[tuple[HookSpec, tuple[HandlerEntry, ...]]]] = {}
        self._blocking: frozenset[str] = frozenset()
        self._stale = True  # the tables are built at the first dispatch

    def add_registry(self, registry: HookRegistry) -> None:
        """Fire ``registry``'s hooks too from now on (a pipeline the entrypoint built)."""
        if registry in self._registries:
            return
        self._registries.append(registry)
        registry.attach(self)
        self._stale = True

    def invalidate(self) -> None:
        """The registries changed: rebuild the dispatch tables before the next dispatch
        (registering ten handlers costs one rebuild, not ten). Registries call this,
        possibly from another thread (a widget in the kernel while a simulation runs in
        its worker); the rebuild then happens in the bus's own thread."""
        self._stale = True

    def rebuild(self) -> None:
        """Flatten the enabled handlers per hook and per event; note which events an
        awaited handler views (emitting one may take session time). The new tables are
        built aside and swapped in whole, so dispatch never sees half of one."""
        self._stale = False  # a change from now on marks the tables stale again
        tables = dispatch_tables(self._registries)
        self._flat, self._views, self._blocking = tables

    def entries(self, hook: str) -> tuple[HandlerEntry, ...]:
        """The enabled handlers of ``"scope.name"``, in firing order."""
        if self._stale:
            self.rebuild()
        return self._flat.get(hook, ())

    def has_handlers(self, hook: str) -> bool:
        """Whether any enabled handler is registered for ``"scope.name"``."""
        return bool(self.entries(hook))

    # -- clock and subscribers ------------------------------------------------------
    def now_ms(self) -> float:
        """Milliseconds since the bus's first event, on the session clock."""
        now = self._clock_ms()
        t0 = self._t0
        if t0 is None:
            self._t0 = t0 = now
        return now - t0

    def set_clock(self, clock_ms: Callable[[], float]) -> None:
        """Read the session clock straight from ``clock_ms`` from now on: a clock that
        already reads session milliseconds (0 when the call was dispatched, as the
        simulator's per-call clock does). One call per read instead of three, on the
        hottest path of a simulation."""
        self._t0 = 0.0
        self.now_ms = clock_ms  # shadows the method for this bus

    def on_virtual_time(self) -> bool:
        """Whether the loop runs on virtual time (cached: a bus lives on one loop)."""
        if self._on_virtual_time is None:
            self._on_virtual_time = hasattr(asyncio.get_running_loop(), "time_us")
        return self._on_virtual_time

    def subscribe(self, observer: Callable[[Any], Any], *, rows: bool | None = None) -> None:
        """Call ``observer`` synchronously for every canonical event: with the event
        object, or with its row ``(cls, session_id, turn_id, seq, t_ms, fields)`` when
        ``rows`` (default: the observer's ``rows`` attribute, as ``Recorder.take`` and a
        simulation's event log have), so no object is built for it. An observer that
        raises is reported as an ``error`` event and dropped."""
        if rows is None:
            rows = getattr(observer, "rows", False)
        (self._row_sinks if rows else self._subscribers).append(observer)
        self._listening = True

    # -- canonical events ---------------------------------------------------------
    async def emit(self, cls: type[ev.Event], *fields: Any,
                   at_ms: float | None = None) -> ev.Event | None:
        """Stamp and publish one canonical event, then fire the hooks that view it.

        ``at_ms`` stamps an earlier instant (live audio: the VAD knows the caller stopped
        speaking only after its silence window). Returns the event, or None when nobody
        listens (nothing is built then).
        """
        if self._stale:
            self.rebuild()
        views = self._views.get(cls.name)
        event = self._stamp(cls, fields, at_ms, views)
        if views:
            ctx = self.context
            for spec, entries in views:
                if holds(spec):
                    await awaited.observe(self, spec, entries, spec.args_of(event, ctx))
                else:
                    self._detach(spec, entries, spec.args_of(event, ctx))
        return event

    def emit_now(self, cls: type[ev.Event], *fields: Any) -> bool:
        """:meth:`emit` without awaiting, for an event no handler can hold up (none views
        it, or only fire-and-forget and side-effect-only ones): True when emitted. False,
        with nothing done, when an awaited hook views it; ``await emit(...)`` it then. A
        simulation's hottest path: one call per event, the usual case inline."""
        if self._stale:
            self.rebuild()
        name = cls.name
        if name in self._blocking:
            return False
        views = self._views.get(name)
        if views:
            event = self._stamp(cls, fields, None, views)
            ctx = self.context
            for spec, entries in views:
                self._detach(spec, entries, spec.args_of(event, ctx))
            return True
        if self._deferred is not None:
            self._raise_deferred()
        self.seq += 1
        if self._listening:
            self._publish(cls, self.now_ms(), fields)
        return True

    def holds_up(self, names: Iterable[str]) -> bool:
        """Whether an awaited hook views any of the events ``names`` (so emitting one may
        take session time)."""
        if self._stale:
            self.rebuild()
        return not self._blocking.isdisjoint(names)

    def _stamp(self, cls: type[ev.Event], fields: tuple, at_ms: float | None,
               views: Any) -> ev.Event | None:
        """Number the event, build it (unless nobody listens) and publish it."""
        if self._deferred is not None:
            self._raise_deferred()
        self.seq += 1
        if not views and not self._listening:
            return None
        t_ms = self.now_ms() if at_ms is None else at_ms
        event = cls(self.session_id, self.turn_id, self.seq, t_ms, *fields) \
            if views or self._subscribers else None
        if self._listening:
            self._publish(cls, t_ms, fields, event)
        return event

    def _publish(self, cls: type[ev.Event], t_ms: float, fields: tuple,
                 event: ev.Event | None = None, turn_id: int | None = None) -> None:
        """Hand one stamped event (``seq`` already counted) to the row sinks, as a row,
        and to the object observers, as the event (built here if not given)."""
        turn = self.turn_id if turn_id is None else turn_id
        if self._row_sinks:
            row = (cls, self.session_id, turn, self.seq, t_ms, fields)
            for sink in self._row_sinks:
                try:
                    sink(row)
                except Exception as err:
                    self._observer_failed(sink, err)
        if self._subscribers:
            if event is None:
                event = cls(self.session_id, turn, self.seq, t_ms, *fields)
            for observer in self._subscribers:
                try:
                    observer(event)
                except Exception as err:
                    self._observer_failed(observer, err)

    def _observer_failed(self, observer: Callable, err: Exception) -> None:
        if self.strict:
            raise err
        self._subscribers = [o for o in self._subscribers if o is not observer]
        self._row_sinks = [o for o in self._row_sinks if o is not observer]
        self._listening = bool(self._subscribers or self._row_sinks)
        log.warning("event observer %r raised and was removed: %r", observer, err)
        self.spawn(self.emit(ev.Error, "observer", str(err), type(err).__name__,
                             repr(observer), "error", err))

    async def fire(self, hook: str, *args: Any) -> None:
        """Fire an observe hook directly by ``"scope.name"`` (e.g. ``"session.user_turn"``),
        for stages that are not canonical events and for benchmarks."""
        entries = self.entries(hook)
        if entries:
            await awaited.observe(self, _SPEC_BY_KEY[hook], entries, args)

    @property
    def listening(self) -> bool:
        """Whether anybody subscribed (events and hook calls are published then)."""
        return self._listening

    def record_call(self, spec: HookSpec, entry: HandlerEntry, start_ms: float,
                    wall_ns: int, ok: bool, turn_id: int | None = None) -> None:
        """Account one handler call: its entry's running totals and, when anybody
        listens, a ``hook_call`` event (session-clock duration, wall ns, ok)."""
        entry.calls += 1
        entry.total_s += wall_ns * 1e-9
        if self._listening:  # a row, not an object, unless an observer wants objects
            self.seq += 1
            self._publish(ev.HookCall, start_ms, (spec.name, spec.scope.value,
                          entry.qualname, self.now_ms() - start_ms, wall_ns, ok),
                          turn_id=turn_id)

    # -- stream hooks (streams.py) and detached ones (detached.py) -------------------
    async def run_chain(self, name: str, text: str) -> str:
        """Run the ``llm`` chain over ``text`` (see :func:`streams.run_chain`)."""
        return await streams.run_chain(self, name, text)

    def stream_slot(self, name: str, builtin: Callable[[AsyncIterator], AsyncIterator],
                    stream: AsyncIterator) -> AsyncIterator:
        """The ``stt``/``tts`` slot over ``stream`` (see :func:`streams.stream_slot`)."""
        return streams.stream_slot(self, name, builtin, stream)

    def chained_stream(self, name: str, stream: AsyncIterator) -> AsyncIterator:
        """``stream`` through every ``vision_frame`` handler (:func:`streams.chained_stream`)."""
        return streams.chained_stream(self, name, stream)

    def _detach(self, spec: HookSpec, entries: tuple[HandlerEntry, ...], args: tuple) -> None:
        if spec.dispatch is Dispatch.FIRE_AND_FORGET:
            detached.fire_and_forget(self, spec, entries, args)
        else:
            detached.beside(self, spec, entries, args)

    def spawn(self, coro: Coroutine, context: contextvars.Context | None = None) -> None:
        """Run ``coro`` in a task the session waits for at its end (:meth:`drain`)."""
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for detached hook calls to finish; cancel what is left after
        ``timeout_s`` (session clock seconds, default ``DRAIN_S``); each cancelled call
        leaves a hooks row (``ok`` False) and a warning. Call at session end."""
        timeout_s = DRAIN_S if timeout_s is None else timeout_s
        while self._tasks:
            pending = list(self._tasks)
            _, not_done = await asyncio.wait(pending, timeout=timeout_s)
            for task in not_done:
                task.cancel()
            if not_done:
                await asyncio.gather(*not_done, return_exceptions=True)
                break
        if self._deferred is not None:
            self._raise_deferred()

    # -- failures -----------------------------------------------------------------
    async def handler_failed(self, spec: HookSpec, entry: HandlerEntry, err: Exception,
                             detached: bool = False, turn_id: int | None = None) -> None:
        """A handler raised ``err``: an ``error`` event (and ``on_error``), the call goes
        on; or, when strict, re-raise it (a detached call's at the next emit or drain)."""
        if self.strict:
            self.strict_error = self.strict_error or err
            if detached:  # nobody awaits a detached call: raise at the next emit/drain
                if not self._session_ending:
                    self._deferred = self._deferred or err
                return
            raise err
        if entry.qualname not in _reported_handlers:
            _reported_handlers.add(entry.qualname)
            log.warning("%s hook %r handler %s raised; the call goes on (error event).",
                        spec.scope.value, spec.name, entry.qualname, exc_info=err)
        await self.emit_error(f"hook:{spec.name}", err, handler=entry.qualname,
                              fire_hooks=spec.name != "on_error", turn_id=turn_id)

    async def emit_error(self, component: str, err: BaseException | str, *,
                         handler: str = "", severity: str = "error",
                         fire_hooks: bool = True, turn_id: int | None = None) -> None:
        """Publish an ``error`` event (and fire ``on_error`` unless ``fire_hooks`` is off,
        which stops a failing ``on_error`` handler from feeding itself)."""
        message = str(err)
        kind = type(err).__name__ if isinstance(err, BaseException) else "Error"
        exc = err if isinstance(err, BaseException) else None
        current = self.turn_id
        if turn_id is not None:  # a detached hook reports against the turn it ran for
            self.turn_id = turn_id
        try:
            if fire_hooks:
                await self.emit(ev.Error, component, message, kind, handler, severity, exc)
                return
            self.seq += 1
            if self._listening:
                self._publish(ev.Error, self.now_ms(),
                              (component, message, kind, handler, severity, exc))
        finally:
            if turn_id is not None:
                self.turn_id = current

    def end_of_session(self) -> None:
        """The session is closing: a strict error from a detached handler is kept in
        ``strict_error`` only, no longer raised at the next emit, so ``session_end`` and
        its ``call_end`` hooks always go out."""
        self._session_ending = True
        self._deferred = None

    def _raise_deferred(self):
        err, self._deferred = self._deferred, None
        raise err


_SPEC_BY_KEY: dict[str, HookSpec] = {s.key: s for s in HOOK_SPECS}



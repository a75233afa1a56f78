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
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from time import perf_counter, perf_counter_ns
from typing import Any

from .. import events as ev
from ..errors import HookSignatureError
from .registry import HandlerEntry, HookRegistry
from .spec import HOOK_SPECS, Dispatch, HookSpec

log = logging.getLogger("agentlab.hooks")

_reported_handlers: set[str] = set()  # log each broken handler's traceback once per process

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


def _loop_clock_ms() -> float:
    return asyncio.get_running_loop().time() * 1e3


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
        self._subscribers: list[Callable[[ev.Event], Any]] = []
        self._tasks: set[asyncio.Future] = set()
        self._deferred: BaseException | None = None
        self._session_ending = False
        self._on_virtual_time: bool | None = None
        # strict: the first handler exception re-raised (or deferred); the runner raises it
        # out of the simulation once the call has ended, whatever caught it on the way
        self.strict_error: BaseException | None = None
        self._registries = list(registries)
        self._views: dict[str, list[tuple[HookSpec, list[HandlerEntry]]]] = {}
        self._by_key: dict[str, list[list[HandlerEntry]]] = {}
        for reg in self._registries:
            for spec, entries in reg:
                self._by_key.setdefault(spec.key, []).append(entries)
            reg.attach(self)
        self._flat: dict[str, tuple[HandlerEntry, ...]] = {}
        self.rebuild()

    def add_registry(self, registry: HookRegistry) -> None:
        """Fire ``registry``'s hooks too from now on (a pipeline the entrypoint built)."""
        if registry in self._registries:
            return
        self._registries.append(registry)
        for spec, entries in registry:
            self._by_key.setdefault(spec.key, []).append(entries)
        registry.attach(self)
        self.rebuild()

    def rebuild(self) -> None:
        """Flatten the enabled handlers per hook and per event. The registries call this
        on every change (registration is rare, dispatch is hot), possibly from another
        thread (a widget in the kernel while a simulation runs in its worker): the new
        tables are built aside and swapped in whole, so dispatch never sees half of one."""
        flat = {key: tuple(e for lst in lists for e in lst if e.enabled)
                for key, lists in self._by_key.items()}
        views: dict[str, list[tuple[HookSpec, tuple[HandlerEntry, ...]]]] = {}
        for spec in HOOK_SPECS:  # table order is firing order
            entries = flat.get(spec.key)
            if entries and spec.event:
                views.setdefault(spec.event, []).append((spec, entries))
        self._flat, self._views = flat, views

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

    def subscribe(self, observer: Callable[[ev.Event], Any]) -> None:
        """Call ``observer(event)`` synchronously for every canonical event (the recorder's
        way in). An observer that raises is reported as an ``error`` event and dropped."""
        self._subscribers.append(observer)

    # -- canonical events ---------------------------------------------------------
    async def emit(self, cls: type[ev.Event], *fields: Any,
                   at_ms: float | None = None) -> ev.Event | None:
        """Stamp and publish one canonical event, then fire the hooks that view it.

        ``at_ms`` stamps an earlier instant (live audio: the VAD knows the caller stopped
        speaking only after its silence window). Returns the event, or None when nobody
        listens (nothing is built then).
        """
        views = self._views.get(cls.name)
        event = self._stamp(cls, fields, at_ms, views)
        if views:
            ctx = self.context
            for spec, entries in views:
                if spec.dispatch is Dispatch.FIRE_AND_FORGET:
                    self._fire_and_forget(spec, entries, spec.args_of(event, ctx))
                else:
                    await self._observe(spec, entries, spec.args_of(event, ctx))
        return event

    def emit_now(self, cls: type[ev.Event], *fields: Any) -> bool:
        """:meth:`emit` without awaiting, for an event no handler can hold up (none, or
        only fire-and-forget ones view it): True when emitted. False, with nothing done,
        when an awaited hook views it; ``await emit(...)`` it then. A simulation's
        hottest path: one call per event, the usual case (no hook views it) inline."""
        views = self._views.get(cls.name)
        if views:
            for spec, _ in views:
                if spec.dispatch is not Dispatch.FIRE_AND_FORGET:
                    return False
            event = self._stamp(cls, fields, None, views)
            ctx = self.context
            for spec, entries in views:
                self._fire_and_forget(spec, entries, spec.args_of(event, ctx))
            return True
        if self._deferred is not None:
            self._raise_deferred()
        self.seq = seq = self.seq + 1
        subscribers = self._subscribers
        if subscribers:
            event = cls(self.session_id, self.turn_id, seq, self.now_ms(), *fields)
            for observer in subscribers:
                try:
                    observer(event)
                except Exception as err:
                    self._observer_failed(observer, err)
        return True

    def holds_up(self, names: Iterable[str]) -> bool:
        """Whether an awaited hook views any of the events ``names`` (so emitting one may
        take session time)."""
        views = self._views
        return any(spec.dispatch is not Dispatch.FIRE_AND_FORGET
                   for name in names for spec, _ in views.get(name, ()))

    def _stamp(self, cls: type[ev.Event], fields: tuple, at_ms: float | None,
               views: Any) -> ev.Event | None:
        """Number the event, build it (unless nobody listens) and publish it."""
        if self._deferred is not None:
            self._raise_deferred()
        self.seq += 1
        if not views and not self._subscribers:
            return None
        event = cls(self.session_id, self.turn_id, self.seq,
                    self.now_ms() if at_ms is None else at_ms, *fields)
        if self._subscribers:
            self._publish(event)
        return event

    def _publish(self, event: ev.Event) -> None:
        for observer in self._subscribers:
            try:
                observer(event)
            except Exception as err:
                self._observer_failed(observer, err)

    def _observer_failed(self, observer: Callable, err: Exception) -> None:
        if self.strict:
            raise err
        self._subscribers = [o for o in self._subscribers if o is not observer]
        log.warning("event observer %r raised and was removed: %r", observer, err)
        self._spawn(self.emit(ev.Error, "observer", str(err), type(err).__name__,
                              repr(observer), "error", err))

    # -- observe: awaited in order ------------------------------------------------
    async def _observe(self, spec: HookSpec, entries: tuple[HandlerEntry, ...],
                       args: tuple) -> None:
        if self._subscribers:
            return await self._observe_recorded(spec, entries, args)
        # Hot path: one clock read per handler boundary; float seconds avoid allocating
        # big ints on every read (the clock dominates dispatch cost).
        clock = perf_counter
        t0 = clock()
        for entry in entries:
            try:
                await entry.fn(*args)
            except Exception as err:
                await self._handler_failed(spec, entry, err)
            t1 = clock()
            entry.calls += 1
            entry.total_s += t1 - t0
            t0 = t1

    async def fire(self, hook: str, *args: Any) -> None:
        """Fire an observe hook directly by ``"scope.name"`` (e.g. ``"session.user_turn"``),
        for stages that are not canonical events and for benchmarks."""
        entries = self._flat.get(hook)
        if not entries:
            return
        if self._subscribers:
            return await self._observe_recorded(_SPEC_BY_KEY[hook], entries, args)
        # Same loop as _observe, inlined: awaiting _observe would add a coroutine frame
        # (~100 ns, a third of a bare dispatch) to the hottest path.
        clock = perf_counter
        t0 = clock()
        for entry in entries:
            try:
                await entry.fn(*args)
            except Exception as err:
                await self._handler_failed(_SPEC_BY_KEY[hook], entry, err)
            t1 = clock()
            entry.calls += 1
            entry.total_s += t1 - t0
            t0 = t1

    async def _observe_recorded(self, spec, entries, args) -> None:
        for entry in entries:
            start_ms = self.now_ms()
            t0 = perf_counter_ns()
            ok = True
            try:
                await entry.fn(*args)
            except Exception as err:
                ok = False
                await self._handler_failed(spec, entry, err)
            await self._hook_call(spec, entry, start_ms, perf_counter_ns() - t0, ok)

    async def _hook_call(self, spec, entry, start_ms, wall_ns, ok,
                         turn_id: int | None = None) -> None:
        self._record_call(spec, entry, start_ms, wall_ns, ok, turn_id)

    def _record_call(self, spec, entry, start_ms, wall_ns, ok,
                     turn_id: int | None = None) -> None:
        entry.calls += 1
        entry.total_s += wall_ns * 1e-9
        if self._subscribers:
            self.seq += 1
            turn = self.turn_id if turn_id is None else turn_id
            self._publish(ev.HookCall(self.session_id, turn, self.seq, start_ms,
                                      spec.name, spec.scope.value, entry.qualname,
                                      self.now_ms() - start_ms, wall_ns, ok))

    # -- chain (llm) --------------------------------------------------------------
    async def run_chain(self, name: str, text: str) -> str:
        """Run the ``llm`` chain: each handler sees ``{"text": current}`` and may replace
        it by returning a str or yielding str chunks; None passes it through. A failing
        handler passes its input through. Returns the final text."""
        key = f"pipeline.{name}"
        spec = _SPEC_BY_KEY[key]
        recorded = bool(self._subscribers)
        for entry in self._flat.get(key, ()):
            start_ms = self.now_ms() if recorded else 0.0
            t0 = perf_counter_ns()
            ok = True
            try:
                new = await self._chain_step(entry, {"text": text})
            except Exception as err:
                ok = False
                new = None
                await self._handler_failed(spec, entry, err)
            if new is not None:
                text = new
            if recorded:
                await self._hook_call(spec, entry, start_ms, perf_counter_ns() - t0, ok)
            else:
                entry.calls += 1
                entry.total_s += (perf_counter_ns() - t0) * 1e-9
        return text

    @staticmethod
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

    # -- stream slot (stt, tts) ---------------------------------------------------
    def has_handlers(self, hook: str) -> bool:
        """Whether any enabled handler is registered for ``"scope.name"``."""
        return bool(self._flat.get(hook))

    def stream_slot(self, name: str, builtin: Callable[[AsyncIterator], AsyncIterator],
                    stream: AsyncIterator) -> AsyncIterator:
        """Run the ``stt``/``tts`` slot over ``stream``: the registered handler if any
        (with ``run_stt``/``run_tts`` bound to ``builtin``), else ``builtin`` itself (no
        wrapper on the way). If the handler raises, the rest of the stream goes through
        ``builtin``."""
        key = f"pipeline.{name}"
        if not self.has_handlers(key):
            return builtin(stream)
        return self._handled_slot(name, self._flat[key][0], builtin, stream)

    async def _handled_slot(self, name: str, entry: HandlerEntry, builtin: Callable,
                            stream: AsyncIterator) -> AsyncIterator:
        key = f"pipeline.{name}"
        spec = _SPEC_BY_KEY[key]
        upstream = _Passthrough(stream)
        inner_ns = [0]

        def timed_builtin(s: AsyncIterator) -> AsyncIterator:
            inner = _Passthrough(builtin(s))
            inner_ns.append(inner)  # keep a handle to subtract its time later
            return inner

        token = _BUILTIN_STAGE[name].set(timed_builtin)
        start_ms = self.now_ms()
        # The hook's cost is the time spent inside its __anext__ calls (not while it is
        # suspended at a yield and the consumer runs), minus what upstream and the
        # built-in stage took inside them.
        handler = _Passthrough(entry.fn(upstream))
        ok = True
        try:
            async for item in handler:
                yield item
        except Exception as err:
            ok = False
            await self._handler_failed(spec, entry, err)
            async for item in builtin(upstream):  # fall back for the rest of the stream
                yield item
        finally:
            _BUILTIN_STAGE[name].reset(token)
            spent = handler.ns - upstream.ns - sum(i.ns for i in inner_ns[1:])
            await self._hook_call(spec, entry, start_ms, max(spent, 0), ok)

    # -- chained stream (vision_frame) --------------------------------------------
    def chained_stream(self, name: str, stream: AsyncIterator) -> AsyncIterator:
        """Wrap ``stream`` with every ``vision_frame`` handler in registration order; a
        handler that raises is bypassed for the rest of the stream."""
        key = f"pipeline.{name}"
        for entry in self._flat.get(key, ()):
            stream = self._guarded_link(_SPEC_BY_KEY[key], entry, stream)
        return stream

    async def _guarded_link(self, spec, entry, stream) -> AsyncIterator:
        upstream = _Passthrough(stream)
        link = _Passthrough(entry.fn(upstream))
        start_ms = self.now_ms()
        ok = True
        try:
            async for item in link:
                yield item
        except Exception as err:
            ok = False
            await self._handler_failed(spec, entry, err)
            async for item in upstream:
                yield item
        finally:  # one hook_call per link and stream: its own time, not the upstream's
            await self._hook_call(spec, entry, start_ms, max(link.ns - upstream.ns, 0), ok)

    # -- fire-and-forget (framework hooks) -----------------------------------------
    def _fire_and_forget(self, spec, entries, args) -> None:
        # A call runs in its own task (a plain def on virtual time runs now: _run_inline),
        # so no handler delays the emitting stage; drain() waits for them at session end.
        inline = self._virtual_time()
        for entry in entries:
            if inline and not entry.is_async:
                self._run_inline(spec, entry, args, self.turn_id)
            else:
                self._spawn(self._run_detached(spec, entry, args, self.turn_id))

    def _virtual_time(self) -> bool:
        """Whether the loop runs on virtual time (cached: a bus lives on one loop)."""
        if self._on_virtual_time is None:
            self._on_virtual_time = hasattr(asyncio.get_running_loop(), "time_us")
        return self._on_virtual_time

    def _run_inline(self, spec, entry, args, turn_id: int) -> None:
        """A sync fire-and-forget handler on virtual time, called as the event fires: a
        plain def cannot suspend and takes no session time there, while a task would run
        only when the simulation next yields (a turn's ``on_turn_latency`` ran at the end
        of the call). On real time (live calls) it stays in a task, so its wall time never
        holds up the emitting stage. A failure is reported, and a returned coroutine
        awaited, in a task."""
        start_ms = self.now_ms()
        t0 = perf_counter_ns()
        try:
            result = entry.fn(*args)
        except Exception as err:
            self._record_call(spec, entry, start_ms, perf_counter_ns() - t0, False, turn_id)
            self._spawn(self._handler_failed(spec, entry, err, detached=True,
                                             turn_id=turn_id))
            return
        if inspect.isawaitable(result):  # `lambda m: send(m)` with async send()
            self._spawn(self._finish_detached(spec, entry, result, start_ms, t0, turn_id))
            return
        self._record_call(spec, entry, start_ms, perf_counter_ns() - t0, True, turn_id)

    async def _run_detached(self, spec, entry, args, turn_id: int) -> None:
        start_ms = self.now_ms()
        t0 = perf_counter_ns()
        try:
            result = entry.fn(*args)  # an async def's coroutine, or a plain def's value
        except Exception as err:
            self._record_call(spec, entry, start_ms, perf_counter_ns() - t0, False, turn_id)
            await self._handler_failed(spec, entry, err, detached=True, turn_id=turn_id)
            return
        await self._finish_detached(spec, entry, result, start_ms, t0, turn_id)

    async def _finish_detached(self, spec, entry, result, start_ms, t0,
                               turn_id: int) -> None:
        """Await what a fire-and-forget handler returned (a coroutine: an async def, or
        ``lambda m: send(m)``) and record the call, however it ends."""
        ok = True
        try:
            if inspect.isawaitable(result):
                await result
        except Exception as err:
            ok = False
            await self._handler_failed(spec, entry, err, detached=True, turn_id=turn_id)
        except asyncio.CancelledError:  # still running when the session closed (drain)
            self._record_call(spec, entry, start_ms, perf_counter_ns() - t0, False, turn_id)
            await self.emit_error(f"hook:{spec.name}", f"{entry.qualname} was still running "
                                  f"when the session ended and was cancelled; a "
                                  f"fire-and-forget handler must finish within drain's "
                                  f"{DRAIN_S:g} s", handler=entry.qualname,
                                  severity="warn", fire_hooks=False, turn_id=turn_id)
            raise
        self._record_call(spec, entry, start_ms, perf_counter_ns() - t0, ok, turn_id)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for detached (fire-and-forget) hook calls to finish; cancel what is left
        after ``timeout_s`` (session clock seconds, default ``DRAIN_S``); each cancelled
        call leaves a hooks row (``ok`` False) and a warning. Call at session end."""
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
    async def _handler_failed(self, spec: HookSpec, entry: HandlerEntry, err: Exception,
                              detached: bool = False, turn_id: int | None = None) -> None:
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
            if self._subscribers:
                self._publish(ev.Error(self.session_id, self.turn_id, self.seq,
                                       self.now_ms(), component, message, kind, handler,
                                       severity, exc))
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


DRAIN_S = 5.0  # how long fire-and-forget handlers may run on after their session ended

_SPEC_BY_KEY: dict[str, HookSpec] = {s.key: s for s in HOOK_SPECS}


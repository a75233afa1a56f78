"""Hook registration: name and handler-shape checks, and the handler lists dispatch reads.

Every object that takes hooks (``AgentRunner``, ``Session``, ``Pipeline``, ``FrameworkHooks``)
owns a :class:`HookRegistry` for its scope. Registration fails loudly: an unknown name
lists the valid ones and suggests the closest; a handler of the wrong shape is told what
to write instead.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import itertools
import threading
import types
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import HookReplacedWarning, HookSignatureError, UnknownHookError
from .spec import (
    ANY_CALLABLE,
    ASYNC,
    ASYNC_OR_ASYNCGEN,
    ASYNCGEN,
    FRAMEWORK_ALIASES,
    HOOK_SPECS,
    SPECS_BY_SCOPE,
    Dispatch,
    HookSpec,
    Scope,
)

_OWNER_OF_SCOPE = {
    Scope.RUNNER: "@runner.on(...)",
    Scope.SESSION: "@ctx.session.on(...)",
    Scope.PIPELINE: "@pipeline.on(...)",
    Scope.FRAMEWORK: "session.hooks.register(...)",
}

_STAMPS = itertools.count(1)  # HookRegistry.stamp: unique in this process


class HandlerEntry:
    """A registered handler plus the running cost of its calls (wall seconds)."""

    __slots__ = ("calls", "enabled", "fn", "is_async", "is_gen", "qualname", "total_s")

    def __init__(self, fn: Callable, qualname: str, is_async: bool, is_gen: bool):
        self.fn = fn
        self.qualname = qualname
        self.is_async = is_async
        self.is_gen = is_gen
        self.calls = 0
        self.total_s = 0.0
        self.enabled = True

    def __repr__(self) -> str:
        return f"<handler {self.qualname}>"


def qualified_name(fn: Any) -> str:
    """A stable, address-free name for a handler (module.qualname)."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    qual = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{qual}" if module and module != "__main__" else qual


def handler_kind(fn: Any) -> str:
    """``'asyncgen'``, ``'async'``, ``'gen'`` (a def with yield), ``'sync'`` or
    ``'not callable'``."""
    if not callable(fn):
        return "not callable"
    target = inspect.unwrap(fn.func if isinstance(fn, functools.partial) else fn)
    if inspect.isasyncgenfunction(target):
        return "asyncgen"
    if inspect.iscoroutinefunction(target):
        return "async"
    if inspect.isgeneratorfunction(target):
        return "gen"
    call = type(target).__call__  # a callable object: look at its class's __call__
    if call is not None and not inspect.isfunction(target) and not inspect.ismethod(target):
        if inspect.isasyncgenfunction(call):
            return "asyncgen"
        if inspect.iscoroutinefunction(call):
            return "async"
    return "sync"


_WHAT = {"asyncgen": "an async generator", "gen": "a generator (def with yield)",
         "sync": "a plain function (def)", "async": "an async function without yield"}


def _shape_problem(spec: HookSpec, kind: str, fn: Any, owner: str) -> str | None:
    name = getattr(fn, "__name__", "handler")
    params = ", ".join(spec.params)
    where = f"Hook {spec.name!r} on {owner}"
    lam = name == "<lambda>"
    if lam:  # a lambda cannot be async: the fix is a named function
        name = "handler"
    shown = "the lambda" if lam else repr(name)
    if kind == "not callable":
        return f"{where} needs a function, got {type(fn).__name__} {fn!r}."
    if spec.shape == ANY_CALLABLE and kind in ("asyncgen", "gen"):
        return (f"{where} calls its handler and takes no stream, but {shown} is "
                f"{_WHAT[kind]}: its body would never run. Write `def {name}({params}):` or "
                f"`async def {name}({params}):` without yield.")
    if spec.shape == ASYNC and kind != "async":
        return (f"{where} needs an async function, but {shown} is {_WHAT[kind]}. "
                f"Write `async def {name}({params}): ...` (no yield).")
    if spec.shape == ASYNC_OR_ASYNCGEN and kind in ("sync", "gen"):
        return (f"{where} needs an async function, but {shown} is {_WHAT[kind]}. "
                f"Write `async def {name}({params}):` and return the new text (or None "
                f"to pass it through), or yield text chunks.")
    if spec.shape == ASYNCGEN and kind != "asyncgen":
        what = _WHAT[kind]
        inner = {"stt": "run_stt", "tts": "run_tts"}.get(spec.name)
        body = (f"`async for item in {inner}({params}): yield item`" if inner
                else f"`async for item in {params}: yield item`")
        return (f"{where} wraps a stream and needs an async generator, but {shown} is "
                f"{what}. Write `async def {name}({params}):` with {body} inside.")
    return None


def _arity_problem(spec: HookSpec, fn: Any, owner: str) -> str | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return None
    try:
        sig.bind(*spec.params)
    except TypeError:
        name = getattr(fn, "__name__", "handler")
        return (f"Hook {spec.name!r} on {owner} calls its handlers as "
                f"{spec.name}({', '.join(spec.params)}), but {name!r} takes {sig}. "
                f"Change it to `{name}({', '.join(spec.params)})`.")
    return None


# Shape and arity checks by (hook, code object, defaults): a handler defined in an
# entrypoint is a new function every call but the same code, and inspect.signature costs
# tens of microseconds. Only plain functions are cached (their checks depend on nothing
# else); anything wrapped, partial or callable objects are checked every time.
_CHECKED: dict[tuple, tuple[str, str | None]] = {}


def _checked(spec: HookSpec, fn: Any, owner: str) -> tuple[str, str | None]:
    """The handler's kind and what is wrong with it for ``spec`` (None: nothing)."""
    plain = type(fn) is types.FunctionType and not hasattr(fn, "__wrapped__")
    key = (spec.key, owner, fn.__code__, len(fn.__defaults__ or ()),
           tuple(fn.__kwdefaults__ or ())) if plain else None
    if key is not None and key in _CHECKED:
        kind, problem = _CHECKED[key]
        # a problem names the function: say it with this one's name
        return (kind, None) if problem is None else (kind, _problem(spec, kind, fn, owner))
    kind = handler_kind(fn)
    problem = _problem(spec, kind, fn, owner)
    if key is not None and len(_CHECKED) < 100_000:
        _CHECKED[key] = (kind, problem)
    return kind, problem


def _problem(spec: HookSpec, kind: str, fn: Any, owner: str) -> str | None:
    return _shape_problem(spec, kind, fn, owner) or _arity_problem(spec, fn, owner)


def unknown_hook_message(name: str, owner: str, valid: list[str]) -> str:
    msg = f"Unknown hook {name!r} for {owner}."
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    if close:
        msg += f" Did you mean {close[0]!r}?"
    elsewhere = sorted({s.scope for s in HOOK_SPECS if s.name == name}, key=str)
    if elsewhere:
        msg += " It is a hook of " + " and ".join(
            f"the {s.value} scope ({_OWNER_OF_SCOPE[s]})" for s in elsewhere) + "."
    return msg + f" Valid hooks for {owner}: {', '.join(valid)}."


class HookRegistry:
    """The handlers registered on one object, per hook name, in registration order.

    Parameters
    ----------
    scope:
        Which vocabulary this object takes (runner, session, pipeline or framework).
    owner:
        How error messages name the object, e.g. ``"Session"``.

    Example
    -------
    >>> reg = HookRegistry(Scope.SESSION, "Session")
    >>> @reg.on("user_turn")
    ... async def log(text): ...
    >>> [e.qualname for e in reg.handlers("user_turn")][0].endswith("log")
    True
    """

    def __init__(self, scope: Scope, owner: str):
        self.scope = scope
        self.owner = owner
        self.specs: dict[str, HookSpec] = SPECS_BY_SCOPE[scope]
        self._handlers: dict[str, list[HandlerEntry]] = {n: [] for n in self.specs}
        # The buses dispatching these handlers: told on every change, so dispatch never
        # has to check whether registration moved under it (it is rare, dispatch is hot).
        self._buses: weakref.WeakSet = weakref.WeakSet()
        self._buses_lock = threading.Lock()  # buses come and go in simulation threads
        # Which handlers these are: 0 while none was ever registered, then a number no
        # other registry or moment has (buses keep dispatch tables by it).
        self.stamp = 0

    def attach(self, bus: Any) -> None:
        """Have ``bus`` rebuild its dispatch tables whenever these handlers change."""
        with self._buses_lock:
            self._buses.add(bus)

    def _changed(self) -> None:
        self.stamp = next(_STAMPS)
        with self._buses_lock:
            buses = list(self._buses)
        for bus in buses:
            bus.invalidate()

    # -- registration ------------------------------------------------------------
    def resolve(self, name: str) -> HookSpec:
        """The spec for ``name``; raises :class:`UnknownHookError` with suggestions."""
        spec = self.specs.get(name)
        if spec is None:
            raise UnknownHookError(unknown_hook_message(name, self.owner, sorted(self.specs)))
        return spec

    def on(self, name: str, handler: Callable | None = None):
        """Register ``handler`` for hook ``name``; usable as a decorator or a plain call.

        Returns the handler unchanged, so decorated functions stay callable.
        """
        spec = self.resolve(name)
        if handler is None:
            return lambda fn: self.on(name, fn)
        kind, problem = _checked(spec, handler, self.owner)
        if problem:
            raise HookSignatureError(problem)
        entry = HandlerEntry(handler, qualified_name(handler), kind in ("async", "asyncgen"),
                             kind == "asyncgen")
        entries = self._handlers[spec.name]
        if spec.dispatch is Dispatch.STREAM_SLOT and entries:
            warnings.warn(
                f"Hook {spec.name!r} on {self.owner} takes one handler: {entry.qualname} "
                f"replaces {entries[0].qualname}. Do both jobs in one handler, or chain "
                f"them inside it.", HookReplacedWarning, stacklevel=3)
            entries.clear()
        entries.append(entry)
        self._changed()
        return handler

    def remove(self, name: str, handler: Callable) -> None:
        """Unregister ``handler`` from hook ``name`` (a no-op if it was not registered)."""
        spec = self.resolve(name)
        self._handlers[spec.name][:] = [
            e for e in self._handlers[spec.name] if e.fn is not handler]
        self._changed()

    def set_enabled(self, name: str, handler: Callable, enabled: bool) -> None:
        """Switch a registered handler off (skipped by dispatch) or on again."""
        for entry in self._handlers[self.resolve(name).name]:
            if entry.fn is handler:
                entry.enabled = enabled
        self._changed()

    # -- reading -----------------------------------------------------------------
    def handlers(self, name: str) -> list[HandlerEntry]:
        """The live handler list for ``name`` (dispatch reads this very list)."""
        return self._handlers[self.resolve(name).name]

    def __iter__(self) -> Iterator[tuple[HookSpec, list[HandlerEntry]]]:
        for name, entries in self._handlers.items():
            yield self.specs[name], entries

    def statistics(self) -> list[dict[str, Any]]:
        """Per handler: hook, handler name, calls and total wall time (ns)."""
        return [
            {"scope": self.scope.value, "hook": spec.name, "handler": e.qualname,
             "calls": e.calls, "total_ns": round(e.total_s * 1e9)}
            for spec, entries in self for e in entries
        ]

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._handlers.values())
        return f"<HookRegistry {self.owner} ({self.scope.value}): {n} handlers>"


class FrameworkHooks(HookRegistry):
    """Fire-and-forget observability hooks (the framework vocabulary).

    Handlers may be sync or async and never block the pipeline; their exceptions become
    ``error`` events. Names are snake_case; the camelCase names of the TypeScript document
    (``onTurnLatency``) are accepted as aliases. Several ``register()`` calls compose.

    Example
    -------
    >>> seen = []
    >>> hooks = FrameworkHooks(on_turn_latency=lambda e: seen.append(e.segments))
    >>> _ = hooks.register({"onError": lambda e: print(e.component)})
    >>> sorted(n for n, h in hooks.registered().items() if h)
    ['on_error', 'on_turn_latency']
    """

    def __init__(self, hooks: Any = None, /, **handlers: Callable):
        super().__init__(Scope.FRAMEWORK, "FrameworkHooks")
        if hooks is not None or handlers:
            self.register(hooks, **handlers)

    def resolve(self, name: str) -> HookSpec:
        return super().resolve(FRAMEWORK_ALIASES.get(name, name))

    def register(self, hooks: Any = None, /, **handlers: Callable) -> FrameworkHooks:
        """Add handlers from a ``FrameworkHooks``, a mapping, an object with ``on_*``/``onX``
        methods, and/or keyword arguments. Adds to what is registered; never replaces."""
        pairs: list[tuple[str, Callable]] = []
        if isinstance(hooks, VoiceSessionConfig):
            hooks = hooks.hooks
        if isinstance(hooks, FrameworkHooks):
            for spec, entries in hooks:
                pairs += [(spec.name, e.fn) for e in entries]
        elif isinstance(hooks, dict):
            pairs += list(hooks.items())
        elif hooks is not None:
            names = [n for n in dir(hooks) if n.startswith("on") and not n.startswith("__")]
            pairs += [(n, getattr(hooks, n)) for n in names
                      if (n in self.specs or n in FRAMEWORK_ALIASES)]
            if not pairs:
                raise UnknownHookError(
                    f"FrameworkHooks.register got {type(hooks).__name__} with no hook "
                    f"methods; give it a dict, keyword arguments or an object with methods "
                    f"named like {', '.join(sorted(self.specs))}.")
        pairs += list(handlers.items())
        for name, fn in pairs:
            if fn is not None:
                self.on(name, fn)
        return self

    def registered(self) -> dict[str, list[Callable]]:
        """Hook name -> registered callables, in registration order."""
        return {spec.name: [e.fn for e in entries] for spec, entries in self}


class HooksManager(FrameworkHooks):
    """bodhi's name for the framework hooks registry: ``HooksManager().register({...})``
    (or an object with ``onX`` methods); pass it as ``AgentRunner(hooks=...)`` or
    ``ctx.session.hooks.register(manager)``."""

    def __init__(self, hooks: Any = None, /, **handlers: Callable):
        super().__init__(hooks, **handlers)
        self.owner = "HooksManager"


class VoiceSessionConfig:
    """bodhi's session configuration, as far as hooks go: ``VoiceSessionConfig(hooks=...)``
    registers them (``AgentRunner(hooks=config)`` or ``ctx.session.hooks.register(
    config)``). Other settings (agent name, model, voice) are kept in ``options``."""

    def __init__(self, hooks: Any = None, **options: Any):
        self.hooks = hooks if isinstance(hooks, FrameworkHooks) else HooksManager(hooks)
        self.options = options

    def __repr__(self) -> str:
        names = ", ".join(n for n, fns in self.hooks.registered().items() if fns)
        return f"VoiceSessionConfig(hooks=[{names}])"

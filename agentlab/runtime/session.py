"""Session: one call's hooks, data and controls."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from ..hooks import FrameworkHooks, HookBus, HookRegistry, Scope

_session_numbers = itertools.count(1)


class Session:
    """One call: session hooks (``@session.on``), framework hooks (``session.hooks``),
    free-form ``data``, and the event bus that fires them.

    Example
    -------
    >>> import agentlab as al
    >>> session = al.Session(session_id="demo")
    >>> @session.on("user_turn")
    ... async def log_turn(text): print("user:", text)
    >>> _ = session.hooks.register(onError=lambda e: print("error in", e.component))
    """

    def __init__(self, session_id: str | None = None, *, pipeline: Any = None,
                 hooks: FrameworkHooks | dict | None = None, strict: bool = False):
        self.session_id = session_id or f"session-{next(_session_numbers)}"
        self.pipeline = pipeline
        self.strict = strict
        self.data: dict[str, Any] = {}
        self.hook_registry = HookRegistry(Scope.SESSION, "Session")
        self.hooks = FrameworkHooks()
        if hooks is not None:
            self.hooks.register(hooks)
        self.bus: HookBus | None = None

    def on(self, name: str, handler: Callable | None = None):
        """Register a session hook; a decorator (``@ctx.session.on("user_turn")``) or a
        plain call (``session.on("user_turn", fn)``)."""
        return self.hook_registry.on(name, handler)

    def make_bus(self, *, context: Any = None, extra: Iterable[HookRegistry] = (),
                 clock_ms: Callable[[], float] | None = None) -> HookBus:
        """Create the bus that fires this session's hooks, its pipeline's and ``extra``
        (runner-level) ones."""
        registries = [self.hook_registry, self.hooks, *extra]
        if self.pipeline is not None:
            registries.append(self.pipeline.hook_registry)
        self.bus = HookBus(self.session_id, registries, context=context,
                           clock_ms=clock_ms, strict=self.strict)
        return self.bus

    def __repr__(self) -> str:
        return f"Session({self.session_id!r})"

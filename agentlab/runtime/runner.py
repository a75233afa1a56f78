"""AgentRunner and CallContext: the call lifecycle and runner-level hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..hooks import FrameworkHooks, HookRegistry, Scope
from .pipeline import Pipeline
from .session import Session
from .tools import as_tools


@dataclass
class CallContext:
    """What an entrypoint and runner hooks get for one call."""

    call_id: str
    session_id: str
    agent_id: str
    user_number: str = ""
    direction: str = "inbound"   # "outbound" when the agent placed the call
    session: Session = field(default=None, repr=False)  # type: ignore[assignment]
    # outbound calls: "human" or "voicemail" once answered (None: not answered); inbound:
    # the caller rang, so "human"
    answered_by: str | None = "human"


class AgentRunner:
    """Runs an entrypoint for every call and fires runner hooks around it.

    Example
    -------
    >>> import agentlab as al
    >>> async def handle_call(ctx): await ctx.session.run()
    >>> runner = al.AgentRunner(entrypoint=handle_call, agent_id="support")
    >>> @runner.on("call_start")
    ... async def log_start(ctx): print("call", ctx.call_id)
    """

    def __init__(self, entrypoint: Callable[[CallContext], Awaitable[None]],
                 agent_id: str = "agent", pipeline: Any = None,
                 hooks: FrameworkHooks | dict | None = None, tools: Any = None):
        if not isinstance(agent_id, str) or not agent_id:
            raise ConfigError(f"AgentRunner(agent_id={agent_id!r}): the agent id must be a "
                              f"non-empty str, e.g. agent_id='support'.")
        self.entrypoint = entrypoint
        self.tools = as_tools(tools)  # @al.tool functions the agent may call, by name
        self.recorders: list = []  # Recorder.attach(runner): record every call
        self.agent_id = agent_id
        # the unpod document's first line gives no pipeline: the default simulated cascade
        self.pipeline = Pipeline() if pipeline is None else pipeline
        self.hook_registry = HookRegistry(Scope.RUNNER, "AgentRunner")
        # session hooks for every call's session (``@runner.session_hooks.on("user_turn")``),
        # e.g. from an Experiment config, which gets the runner, not a session
        self.session_hooks = HookRegistry(Scope.SESSION, "AgentRunner.session_hooks")
        # framework hooks registered here apply to every call's session
        self.hooks = FrameworkHooks()
        if hooks is not None:
            self.hooks.register(hooks)

    def on(self, name: str, handler: Callable | None = None):
        """Register a runner hook (``call_start(ctx)``, ``call_end(ctx, final_state)``)."""
        return self.hook_registry.on(name, handler)

    def __repr__(self) -> str:
        return f"AgentRunner(agent_id={self.agent_id!r})"

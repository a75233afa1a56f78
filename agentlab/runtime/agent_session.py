"""VideoSDK's application shape: ``Agent`` (instructions), ``AgentSession`` (an agent and
its pipeline) and ``JobContext`` (what the entrypoint gets), over agentlab's calls.

A VideoSDK program builds its pipeline inside ``async def entrypoint(ctx: JobContext)``
and ends with ``await AgentSession(agent=agent, pipeline=pipeline).start(...)``. Run the
entrypoint itself (``al.simulate_sync(entrypoint, scenarios=...)`` or
``live.run_live(entrypoint, caller)``): each call runs it, and ``start()`` serves that
call with the session's pipeline, its hooks and its components' latencies, the agent's
instructions as the LLM's system prompt.
"""

from __future__ import annotations

import contextvars
from typing import Any

from ..errors import AgentlabError
from .pipeline import Pipeline
from .runner import CallContext

# The call whose entrypoint is running (set for the entrypoint's task by play_call).
CURRENT_CALL: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "agentlab_current_call", default=None)

JobContext = CallContext  # VideoSDK's name for what the entrypoint receives


class Agent:
    """An agent: its ``instructions`` (the LLM's system prompt) and optional tools.
    Subclass it as VideoSDK programs do (``super().__init__(instructions=...)``)."""

    def __init__(self, instructions: str = "", tools: Any = None, **options: Any) -> None:
        if not isinstance(instructions, str):
            raise AgentlabError(f"Agent(instructions={instructions!r}): instructions are "
                                f"the system prompt, a str.")
        self.instructions = instructions
        self.tools = tools
        self.options = options

    def __repr__(self) -> str:
        return f"{type(self).__name__}(instructions={self.instructions[:40]!r})"


class AgentSession:
    """An agent and the pipeline that serves it, for the call being handled."""

    def __init__(self, agent: Agent, pipeline: Pipeline | None = None,
                 **options: Any) -> None:
        self.agent = agent
        self.pipeline = pipeline if pipeline is not None else Pipeline()
        self.options = options
        self.ctx: CallContext | None = None

    async def start(self, wait_for_participant: bool = True,
                    run_until_shutdown: bool = True, **options: Any) -> None:
        """Serve the call until it ends (agentlab's call has its caller already, so
        ``wait_for_participant`` has nothing to wait for; the call runs to its end)."""
        ctx = CURRENT_CALL.get()
        if ctx is None:
            raise AgentlabError("AgentSession.start() serves the call an entrypoint is "
                                "handling: run the entrypoint with al.simulate(entrypoint, "
                                "...) or live.run_live(entrypoint, caller).")
        self.ctx = ctx
        ctx.session.use_pipeline(self.pipeline, instructions=self.agent.instructions)
        await ctx.session.run()

    async def say(self, text: str) -> None:
        await self._session().say(text)

    async def close(self) -> None:
        await self._session().end()

    def _session(self) -> Any:
        if self.ctx is None:
            raise AgentlabError("the AgentSession has not started: await session.start() "
                                "first.")
        return self.ctx.session

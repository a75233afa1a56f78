"""DialogMachine: turns user text into the agent's reply, with context from hooks."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..scenarios.model import ToolStep


class DialogMachine:
    """Decides what the agent says. ``flow`` is a callable ``flow(text, context) -> str``
    (sync or async), a dict of keyword -> reply, or None (the LLM's replies).

    ``assist(text)`` adds context to the next LLM request (e.g. CRM facts from a
    ``call_start`` hook); ``requests`` keeps every (user text, context) pair sent.

    Example
    -------
    >>> dm = DialogMachine(flow={"order": "Your order ships Monday."})
    >>> dm.assist("Caller is Ada, a gold customer.")
    """

    def __init__(self, flow: Any = None, llm: Any = None):
        self.flow = flow
        self.llm = llm
        self.pending_context: list[str] = []
        self.requests: list[tuple[str, tuple[str, ...]]] = []

    def assist(self, text: str) -> None:
        """Add ``text`` to the context of the next LLM request."""
        self.pending_context.append(text)

    async def reply(self, user_text: str, rng: np.random.Generator, default_llm: Any) -> str:
        """The reply text only (see :meth:`respond`)."""
        return (await self.respond(user_text, rng, default_llm))[0]

    async def respond(self, user_text: str, rng: np.random.Generator, default_llm: Any,
                      scripted: str | None = None,
                      tool_calls: tuple = ()) -> tuple[str, tuple[ToolStep, ...]]:
        """The reply and the tool calls to make first. The flow decides if it has an
        answer; else the scenario's scripted reply; else the LLM. A callable flow may
        return ``{"text": ..., "tool_calls": [{"name": ..., "args": {...}}]}``."""
        context = tuple(self.pending_context)
        self.pending_context.clear()
        self.requests.append((user_text, context))
        flow = self.flow
        if isinstance(flow, dict):
            low = user_text.lower()
            for key, answer in flow.items():
                if key.lower() in low:
                    return answer, tuple(tool_calls)
            flow = None
        if callable(flow):
            out = flow(user_text, context)
            out = await out if inspect.isawaitable(out) else out
            if isinstance(out, dict):
                steps = tuple(ToolStep(c["name"], dict(c.get("args", {})))
                              for c in out.get("tool_calls", ()))
                return str(out.get("text", "")), steps
            return out, tuple(tool_calls)
        if scripted is not None:
            return scripted, tuple(tool_calls)
        llm = self.llm if hasattr(self.llm, "reply") else default_llm
        return llm.reply(user_text, rng), tuple(tool_calls)


"""DialogMachine: turns user text into the agent's reply, with context from hooks."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np


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
        context = tuple(self.pending_context)
        self.pending_context.clear()
        self.requests.append((user_text, context))
        flow = self.flow
        if isinstance(flow, dict):
            low = user_text.lower()
            for key, answer in flow.items():
                if key.lower() in low:
                    return answer
            flow = None
        if callable(flow):
            out = flow(user_text, context)
            return await out if inspect.isawaitable(out) else out
        llm = self.llm if hasattr(self.llm, "reply") else default_llm
        return llm.reply(user_text, rng)


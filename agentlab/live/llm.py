"""An OpenAI-compatible streaming chat client (any base URL: a llama.cpp server, Ollama,
vLLM, a hosted API).

The API key comes from ``api_key=`` or the environment (``AGENTLAB_LLM_API_KEY``, then
``OPENAI_API_KEY``) and is never shown: not in ``repr``, not in errors, not in recorded
tables. A dead endpoint (silent, or sending keep-alive lines and no token) raises
:class:`LLMError` after ``timeout_s``, which the live call records as an ``error`` event
and a failed call, not a hang.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentlabError


class LLMError(AgentlabError):
    """The LLM endpoint failed (unreachable, HTTP error, bad stream)."""


@dataclass
class OpenAIChat:
    """Streaming chat completions from ``base_url`` (e.g. ``http://127.0.0.1:8080/v1``)."""

    base_url: str
    model: str = "local"
    system: str = "You are a helpful voice agent. Answer in one or two short sentences."
    max_tokens: int = 60
    temperature: float = 0.0
    timeout_s: float = 20.0
    api_key: str | None = field(default=None, repr=False)

    def _key(self) -> str | None:
        return (self.api_key or os.environ.get("AGENTLAB_LLM_API_KEY")
                or os.environ.get("OPENAI_API_KEY"))

    async def stream(self, messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        """Yield text deltas of the reply to ``messages`` (system prompt prepended)."""
        import httpx

        headers = {"Content-Type": "application/json"}
        if self._key():
            headers["Authorization"] = f"Bearer {self._key()}"
        body = {"model": self.model, "stream": True, "max_tokens": self.max_tokens,
                "temperature": self.temperature,
                "messages": [{"role": "system", "content": self.system}, *messages]}
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client, \
                    client.stream("POST", url, headers=headers, json=body) as resp:
                if resp.status_code != 200:
                    raise LLMError(f"LLM endpoint {url} answered HTTP {resp.status_code}")
                # timeout_s bounds each read and also the wait for the next token: a
                # server sending keep-alive lines and no token is as dead as a silent one
                clock = asyncio.get_running_loop().time
                last_token = clock()
                async for line in resp.aiter_lines():
                    if clock() - last_token > self.timeout_s:
                        raise LLMError(f"LLM endpoint {url} sent no token for "
                                       f"{self.timeout_s:g} s (timeout_s)")
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {})
                    except (json.JSONDecodeError, KeyError, IndexError):
                        raise LLMError(f"LLM endpoint {url} sent a malformed stream "
                                       f"line") from None
                    if delta.get("content"):
                        last_token = clock()
                        yield delta["content"]
        except httpx.HTTPError as err:
            raise LLMError(f"LLM endpoint {url} failed: {type(err).__name__}") from None

    def __repr__(self) -> str:
        key = "set" if self._key() else "none"
        return f"OpenAIChat(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

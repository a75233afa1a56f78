"""openai plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import LLM, STT
from . import ProviderComponent


class OpenAILLM(ProviderComponent, LLM):
    kind, provider = "llm", "openai"


class OpenAISTT(ProviderComponent, STT):
    kind, provider = "stt", "openai"


__all__ = ["OpenAILLM", "OpenAISTT"]

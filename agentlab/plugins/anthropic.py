"""anthropic plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import LLM
from . import ProviderComponent


class AnthropicLLM(ProviderComponent, LLM):
    kind, provider = "llm", "anthropic"


__all__ = ["AnthropicLLM"]

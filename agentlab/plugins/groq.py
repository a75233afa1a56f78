"""groq plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import LLM
from . import ProviderComponent


class GroqLLM(ProviderComponent, LLM):
    kind, provider = "llm", "groq"


__all__ = ["GroqLLM"]

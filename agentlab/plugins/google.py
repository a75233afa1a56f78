"""google plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import LLM, STT
from . import ProviderComponent


class GoogleLLM(ProviderComponent, LLM):
    kind, provider = "llm", "google"


class GoogleSTT(ProviderComponent, STT):
    kind, provider = "stt", "google"


__all__ = ["GoogleLLM", "GoogleSTT"]

"""assemblyai plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import STT
from . import ProviderComponent


class AssemblyAISTT(ProviderComponent, STT):
    kind, provider = "stt", "assemblyai"


__all__ = ["AssemblyAISTT"]

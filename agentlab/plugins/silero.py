"""silero plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import VAD
from . import ProviderComponent


class SileroVAD(ProviderComponent, VAD):
    kind, provider = "vad", "silero"


__all__ = ["SileroVAD"]

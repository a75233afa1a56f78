"""cartesia plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import STT, TTS
from . import ProviderComponent


class CartesiaTTS(ProviderComponent, TTS):
    kind, provider = "tts", "cartesia"


class CartesiaSTT(ProviderComponent, STT):
    kind, provider = "stt", "cartesia"


__all__ = ["CartesiaTTS", "CartesiaSTT"]

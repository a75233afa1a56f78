"""deepgram plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import STT, TTS
from . import ProviderComponent


class DeepgramSTT(ProviderComponent, STT):
    kind, provider = "stt", "deepgram"


class DeepgramTTS(ProviderComponent, TTS):
    kind, provider = "tts", "deepgram"


__all__ = ["DeepgramSTT", "DeepgramTTS"]

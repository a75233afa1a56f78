"""elevenlabs plugins, simulated with its published latency figures (see agentlab.plugins)."""

from ..components.sim import STT, TTS
from . import ProviderComponent


class ElevenLabsTTS(ProviderComponent, TTS):
    kind, provider = "tts", "elevenlabs"


class ElevenLabsSTT(ProviderComponent, STT):
    kind, provider = "stt", "elevenlabs"


__all__ = ["ElevenLabsTTS", "ElevenLabsSTT"]

"""Components: simulated STT/LLM/TTS/VAD/turn detector and latency profiles."""

from .profiles import Dist, Profile, available_profiles, load_profile
from .sim import LLM, STT, TTS, VAD, TurnDetector

__all__ = ["LLM", "STT", "TTS", "VAD", "Dist", "Profile", "TurnDetector",
           "available_profiles", "load_profile"]

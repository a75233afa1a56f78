"""Components: simulated STT/LLM/TTS/VAD/turn detector/camera and latency profiles."""

from .profiles import Dist, Profile, available_profiles, load_profile
from .sim import LLM, STT, TTS, VAD, Camera, TurnDetector, VideoFrame

__all__ = ["LLM", "STT", "TTS", "VAD", "Camera", "Dist", "Profile", "TurnDetector",
           "VideoFrame", "available_profiles", "load_profile"]

"""``al.sim``: simulated components for pipelines run on virtual time."""

from .components.sim import LLM, STT, TTS, VAD, Camera, TurnDetector, VideoFrame

__all__ = ["LLM", "STT", "TTS", "VAD", "Camera", "TurnDetector", "VideoFrame"]

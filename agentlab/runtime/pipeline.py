"""Pipeline: the components of a voice agent and the stream/lifecycle hooks around them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hooks import HookRegistry, Scope


class Pipeline:
    """A cascade (VAD -> turn detector -> STT -> LLM -> TTS) plus its pipeline hooks.

    Hooks: ``stt`` and ``tts`` (one handler each; a second replaces the first with a
    warning), ``llm`` and ``vision_frame`` (chained), and the lifecycle hooks
    ``user_turn_start``, ``user_turn_end``, ``agent_turn_start``, ``agent_turn_end``.

    Example
    -------
    >>> import agentlab as al
    >>> pipeline = al.Pipeline()
    >>> @pipeline.on("llm")
    ... async def redact(data):
    ...     return data["text"].replace("SSN", "[REDACTED]")
    """

    def __init__(self, stt: Any = None, llm: Any = None, tts: Any = None, vad: Any = None,
                 turn_detector: Any = None, vision: Any = None, **options: Any):
        self.stt = stt
        self.vision = vision  # a camera (al.sim.Camera in simulations): vision is on
        self.llm = llm
        self.tts = tts
        self.vad = vad
        self.turn_detector = turn_detector
        self.options = options
        self.hook_registry = HookRegistry(Scope.PIPELINE, "Pipeline")

    def on(self, name: str, handler: Callable | None = None):
        """Register a pipeline hook; a decorator (``@pipeline.on("llm")``) or a call."""
        return self.hook_registry.on(name, handler)

    def __repr__(self) -> str:
        parts = [f"{k}={type(v).__name__}" for k, v in
                 (("stt", self.stt), ("llm", self.llm), ("tts", self.tts)) if v is not None]
        return f"Pipeline({', '.join(parts)})"

"""Callers for live calls: audio files, or a scenario's turns spoken with TTS."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .audio import SAMPLE_RATE, load_audio
from .models import PiperTTS


@dataclass
class AudioFileCaller:
    """A caller who says each audio file in turn (``pause_ms`` after the agent finished)."""

    files: list[str | Path]
    pause_ms: float = 600.0
    texts: list[str] | None = None  # what the files say, if known (for reading tables)
    # per file: start it this many ms into the agent's reply to the previous one (None:
    # wait for the reply to end, then pause_ms), i.e. talk over the agent
    barge_in_ms: list[float | None] | None = None

    def turns(self) -> list[Any]:
        from ..runtime.caller import CallerTurn

        if self.texts is not None and len(self.texts) != len(self.files):
            raise ConfigError(f"AudioFileCaller: {len(self.files)} files but "
                              f"{len(self.texts)} texts; give one text per file (what it "
                              f"says), or leave texts out.")
        barge = self.barge_in_ms or [None] * len(self.files)
        if len(barge) != len(self.files):
            raise ConfigError(f"AudioFileCaller: {len(self.files)} files but "
                              f"{len(barge)} barge_in_ms values; give one per file (None: "
                              f"wait for the agent).")
        texts = self.texts or [Path(f).stem for f in self.files]
        return [CallerTurn(t, self.pause_ms, b, audio=load_audio(f))
                for f, t, b in zip(self.files, texts, barge, strict=True)]


@dataclass
class ScenarioCaller:
    """A caller who speaks a scenario's turns, synthesized with TTS (piper), with the
    scenario's pauses; the agent's scripted replies and tool calls come along. By default
    the caller's voice is noise-free, so a scenario sounds the same on every run."""

    scenario: Any
    tts: PiperTTS = field(default_factory=lambda: PiperTTS(noise_scale=0.0,
                                                           noise_w_scale=0.0))

    @property
    def scenario_id(self) -> str:
        return self.scenario.id

    @property
    def tools(self) -> dict:
        return dict(self.scenario.tools)

    def turns(self) -> list[Any]:
        from ..runtime.caller import CallPlan

        silence = np.zeros(int(0.6 * SAMPLE_RATE), np.float32)
        turns = []
        for turn in CallPlan.from_scenario(self.scenario).turns:
            if turn.text:
                turn.audio = np.concatenate([silence[:1600], self.tts.synthesize(turn.text),
                                             silence])
                turns.append(turn)
        return turns

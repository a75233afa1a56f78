"""What a live call sounds like: both channels recorded on the session clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE

SLACK_MS = 2 * 512 / SAMPLE_RATE * 1000  # two of librosa.effects.split's hops


@dataclass
class CallAudio:
    """Both channels of one call on the session clock, as 16 kHz float32 arrays."""

    user: list[tuple[float, np.ndarray]] = field(default_factory=list, repr=False)
    agent: list[tuple[float, np.ndarray]] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        seconds = {k: sum(len(a) for _, a in getattr(self, k)) / SAMPLE_RATE
                   for k in ("user", "agent")}
        return f"CallAudio(user={seconds['user']:.1f} s, agent={seconds['agent']:.1f} s)"

    def channel(self, which: str) -> np.ndarray:
        parts = getattr(self, which)
        end = max((t / 1000 * SAMPLE_RATE + len(a) for t, a in [*self.user, *self.agent]),
                  default=0)
        out = np.zeros(int(end) + 1, np.float32)
        for t_ms, a in parts:
            i = int(t_ms / 1000 * SAMPLE_RATE)
            out[i:i + len(a)] += a[: len(out) - i]
        return out

    def perceived_latency(self, turns: Any, top_db: float = 35.0):
        """Per turn: end of the caller's speech -> onset of the agent's speech, measured
        on the recorded audio (librosa), next to the measured ``total_e2e_ms``."""
        import librosa
        import pandas as pd

        user, agent = self.channel("user"), self.channel("agent")
        u = librosa.effects.split(user, top_db=top_db) / SAMPLE_RATE * 1000
        a = librosa.effects.split(agent, top_db=top_db) / SAMPLE_RATE * 1000
        rows = []
        for _, t in turns.dropna(subset=["total_e2e_ms"]).iterrows():
            start = t["t_agent_speech_start_ms"]
            # librosa's frames (hop 512 samples, 32 ms) place an edge up to a frame early
            heard_end = max((e for s, e in u if e <= start + SLACK_MS), default=np.nan)
            onset = min((s for s, e in a if s >= start - SLACK_MS), default=np.nan)
            perceived = onset - heard_end
            rows.append({"turn_id": t["turn_id"], "perceived_ms": perceived,
                         "total_e2e_ms": t["total_e2e_ms"],
                         "difference_ms": perceived - t["total_e2e_ms"]})
        return pd.DataFrame(rows)

"""What one turn is made of, as data: its latency segments, the instants it is measured
between, and the STT stage's event shape (``event.data.text``, as the seed docs use it).

Segments are differences of consecutive instants (see ``Conversation``'s module doc), so
they add up to ``total_e2e_ms = agent_speech_start - U`` exactly; ``other`` keeps what no
stage owns (transport in, time spent in a ``tts`` hook before the built-in stage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CASCADE_SEGMENTS = ("vad", "stt", "endpointing", "user_hooks", "llm_ttft", "tools",
                    "llm_rest", "llm_hooks", "tts_ttfb", "output", "other")
# The seed's realtime segments, plus the time blocking user_turn hooks hold the response
# (the app sends response.create after them) and the residual.
S2S_SEGMENTS = ("client_to_backend", "backend_to_model", "user_hooks", "tools",
                "model_processing", "model_to_backend", "backend_to_client", "other")




@dataclass
class SpeechData:
    text: str
    is_final: bool = True


@dataclass
class SpeechEvent:
    """What the STT stage yields; ``event.data.text`` is mutable, as the seed docs use it."""

    type: str
    data: SpeechData


@dataclass
class TurnInstants:
    speech_end: float = math.nan
    vad_stop: float = math.nan
    stt_final: float = math.nan
    commit: float = math.nan
    llm_request: float = math.nan
    first_token: float = math.nan
    text_ready: float = math.nan
    chain_ms: float = 0.0
    tools_ms: float = 0.0
    tts_request: float = math.nan
    tts_first_audio: float = math.nan
    agent_speech_start: float = math.nan

    def segments(self) -> tuple[float, tuple[tuple[str, float], ...]]:
        total = self.agent_speech_start - self.speech_end
        if math.isnan(total):
            return math.nan, ()
        heard = max(self.vad_stop, self.stt_final)
        # in CASCADE_SEGMENTS order; "other" is what is left, summed in the same order
        ms = (self._vad_silence,
              max(0.0, self.stt_final - self.vad_stop),                  # stt
              self.commit - heard,                                       # endpointing
              self.llm_request - self.commit,                            # user_hooks
              # the model's time to first token, over the request before the tools and
              # the one after them; the tools' own time is its own segment
              self.first_token - self.llm_request - self.tools_ms,       # llm_ttft
              self.tools_ms,                                             # tools
              self.text_ready - self.chain_ms - self.first_token,        # llm_rest
              self.chain_ms,                                             # llm_hooks
              self.tts_first_audio - self.tts_request,                   # tts_ttfb
              self.agent_speech_start - self.tts_first_audio)            # output
        return total, (*zip(CASCADE_SEGMENTS[:-1], ms, strict=True),
                       ("other", total - sum(ms)))

    _vad_silence: float = 0.0
    interrupted: bool = False
    # a speculation hit's real first token (its tokens stream from there; the segments
    # start the LLM's share at release: turn_taking.py)
    tokens_from: float = math.nan

"""A simulated reply worked out in advance, for turns no hook can change or hold up.

With no ``tts``/``llm`` hook and no awaited hook on the reply's events, nothing outside the
simulation decides what happens while the agent answers: sentence instants, the TTS
request, first audio, the playhead, a barge-in are arithmetic on the turn's draws. The
streaming version (two tasks, a queue, async generators, PCM chunks) computes the same
instants the slow way; :func:`plan_reply` computes them directly as a list of steps for
:meth:`Conversation.play`. ``tests/runtime/test_fast_path.py`` holds both to the same
events.

Instants, as the streaming version produces them (ms on the call clock)::

    t_k  = first_token + sum(tokens(sentence_i) / tps, i <= k)   sentence k is ready
    A    = t_1 + ttfb ;  S = A + transport_out                   first audio, speech start
    audio of sentence k is queued at max(S, t_k); the playhead runs on from there
    barge-in at S + barge_after if that is before the playhead, else speech ends with it

Each instant is computed as the streaming version's sleep lands on the virtual clock's
microsecond grid (``wake_at``), so both fire on the same microsecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from .. import events as ev
from ..components import LLM, TTS


@dataclass
class ReplyState:
    """What the steps did so far (read when the call ends mid-reply)."""

    started: bool = False        # agent_speech_start fired
    ended: bool = False          # agent_speech_end fired
    interrupted: bool = False
    steps: list = field(default_factory=list)


def plan_reply(conv: Any, raw: str, first_token: float, tps: float, tokens: tuple[int, int],
               tts_ms: tuple[float, float, float], inst: Any) -> ReplyState:
    """Steps ``(at_ms, Event, fields)`` / ``(at_ms, None, fn)`` for one reply, in the
    order the streaming version fires them (the LLM side first at equal instants)."""
    tts, now = conv.tts, conv.now
    ttfb, lead, out_ms = tts_ms
    state = ReplyState()
    chunks, chunk_tokens, chunk_audio = reply_shape(conv.llm, tts, raw)
    ready, target, t = [], first_token, first_token
    for tokens_k in chunk_tokens:
        target += 1000.0 * tokens_k / tps
        t = wake_at(t, target - t)
        ready.append(t)

    def finish_text() -> None:
        conv.last_reply = raw

    def requested() -> None:
        inst.text_ready = inst.tts_request = now()

    def first_audio() -> None:
        inst.tts_first_audio = now()

    def speech_start() -> None:
        inst.agent_speech_start = now()
        state.started = True
        conv.barge_in_at_ms = None
        conv.answered()

    def speech_end() -> None:
        state.ended = True

    t1 = ready[0]
    audio = wake_at(t1, ttfb)
    start = wake_at(audio, out_ms)
    speaker = [(t1, None, requested), (t1, ev.TtsRequest, (chunks[0],)),
               (audio, None, first_audio), (audio, ev.TtsFirstAudio, ()),
               (start, None, speech_start), (start, ev.AgentSpeechStart, ("reply",))]
    # The playhead as the streaming version moves it, piece by piece (the same float
    # additions in the same order, so the same microsecond at the end).
    barge = conv.barge_after_ms
    barge_at = math.inf if barge is None else start + barge
    playhead = start + tts.pcm_ms(lead)
    cut = barge_at < playhead
    at = start
    spoken = conv.spoken
    for chunk, t_k, pieces in zip(chunks, ready, chunk_audio, strict=True):
        if cut:
            break
        at = t_k if t_k > start else start
        for piece_ms in pieces:
            playhead = (playhead if playhead > at else at) + piece_ms
            if barge_at < playhead:
                cut = True
                break
        else:
            speaker.append((at, None, partial(spoken.append, chunk)))
    if cut:
        stop = wake_at(at, barge_at - at)
        speaker += [(stop, ev.Interruption, ()), (stop, None, speech_end),
                    (stop, ev.AgentSpeechEnd, (True, "reply"))]
    else:
        stop = wake_at(at, playhead - at)
        speaker += [(stop, None, speech_end), (stop, ev.AgentSpeechEnd, (False, "reply"))]
    state.interrupted = cut
    # The LLM side's last steps go before the first speaker step after them (at equal
    # instants the producer task runs before the speaker it wakes).
    t_last = ready[-1]
    i = next((k for k, step in enumerate(speaker) if step[0] >= t_last), len(speaker))
    speaker[i:i] = [(t_last, ev.LlmResponse, (raw, *tokens)), (t_last, None, finish_text),
                    (t_last, ev.AgentTurn, (raw,))]
    state.steps = speaker
    return state


def reply_shape(llm: Any, tts: Any, raw: str) -> tuple:
    """What a reply's text fixes, whatever the draws: its pieces as streamed (sentences
    with their trailing space), tokens per piece, and per piece how long each audio
    chunk the TTS stage yields plays. Replies repeat (canned, scripted), so the
    built-in components' shapes are kept; a subclass may compute them differently, so
    its shapes are worked out every time."""
    if type(llm) is not LLM or type(tts) is not TTS:
        return _reply_shape(llm, tts, raw)
    return _builtin_reply_shape(raw, llm.tokens_per_word, tts.words_per_s, tts.sample_rate,
                                tts.chunk_ms)


@lru_cache(maxsize=4096)
def _builtin_reply_shape(raw: str, tokens_per_word: float, words_per_s: float,
                         sample_rate: int, chunk_ms: float) -> tuple:
    return _reply_shape(LLM(tokens_per_word=tokens_per_word),
                        TTS(sample_rate=sample_rate, words_per_s=words_per_s,
                            chunk_ms=chunk_ms), raw)


def _reply_shape(llm: Any, tts: Any, raw: str) -> tuple:
    chunks = tuple(s + " " for s in llm.sentences(raw))
    step_ms, step_pcm = tts.chunk_ms, tts.pcm_ms(tts.chunk_ms)
    audio = []
    for chunk in chunks:  # the TTS stage's chunking, subtraction for subtraction
        left, pieces = tts.duration_ms(chunk), []
        while left > step_ms:
            left -= step_ms
            pieces.append(step_pcm)
        if left > 0:
            pieces.append(tts.pcm_ms(left))
        audio.append(tuple(pieces))
    return chunks, tuple(llm.tokens(c) for c in chunks), tuple(audio)


def wake_at(now: float, ms: float) -> float:
    """Where ``Conversation.sleep(ms)`` from ``now`` ends: whole microseconds, rounded as
    ``VirtualTimeLoop.advance`` rounds (``now`` is a clock reading, on the grid)."""
    if ms <= 0:
        return now
    return (round(now * 1000.0) + round(ms / 1000.0 * 1e6)) / 1000.0

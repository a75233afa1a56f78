"""The agent's speech and reply, written once: what happens, in which order, at which
instant, as generator programs that yield operations. An executor (``executors.py``)
runs them: inline when nothing can suspend (no ``tts``/``llm`` hook, no awaited hook on
the reply's events: every wait is a clock move), or as asyncio tasks when a hook may.
Both run the same programs, so a hook-free turn and a hooked one follow the same rules.

A reply is three programs::

    reply_text  (the LLM side)  first token; sentence k ready at
                t_k = first_token + sum(tokens(sentence_i) / tps, i <= k), or (llm hooks)
                the full response, then the llm chain over it; llm_response, agent_turn
    builtin_tts (the TTS stage) on the first text: tts_request, ttfb, the leading
                silence; then each text's audio in chunk_ms pieces
    speaker     on the first audio: tts_first_audio, transport out, agent_speech_start;
                audio is queued on a playhead (it plays out after it arrives); a barge-in
                before the playhead cuts it (interruption); agent_speech_end

``say()`` is the last two over a fixed text. At equal instants the LLM side runs before
the speaker it hands text to (it hands over, then waits; the speaker runs then).

Operations are tuples, the kind first:

    (WAIT, ms)                  sleep on the session clock (CallEnded if the call ends)
    (EMIT, cls, fields)         fire an event
    (PUT, text)                 hand text to the TTS stage (None: no more)
    (GET,)                      the TTS stage takes the next text (None: no more)
    (OUT, ms, played, silent)   the TTS stage hands audio over: chunks of ms each (a
                                tuple), and how long each chunk's whole samples play
    (PULL,)                     the speaker takes the next audio: how long each chunk
                                plays, in ms (a tuple; None: no more). The task executor
                                hands over one chunk at a time, the inline one a text's
    (CLOSE,)                    close the audio stream (a barge-in leaves it unfinished)
    (CHAIN, name, text)         run the ``llm`` chain over text; its result comes back
    (AWAIT, fn)                 await fn()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .. import events as ev
from ..components import LLM, TTS
from .ending import ENDED

WAIT, EMIT, PUT, GET, OUT, PULL, CLOSE, CHAIN, AWAIT = range(9)
_PULL, _GET, _CLOSE = (PULL,), (GET,), (CLOSE,)


@dataclass
class Speech:
    """One utterance's bookkeeping, shared by its programs and the executor."""

    source: str                      # "reply" or "say"
    inst: Any                        # the turn's TurnInstants (None for say)
    spoken_before: int               # len(conv.spoken) when it started
    offered: list = field(default_factory=list)  # text that went into the tts slot
    requested: bool = False          # tts_request fired


def first_token(conv: Any, inst: Any, wait_ms: float):
    """The LLM's first token, ``wait_ms`` from now."""
    yield (WAIT, wait_ms)
    inst.first_token = conv.session.bus.now_ms()
    yield (EMIT, ev.LlmFirstToken, ())


def reply_text(conv: Any, raw: str, inst: Any, tokens: tuple[int, int], tps: float,
               buffered: bool, first_wait: float | None = None):
    """The LLM side of a reply: its text to the TTS stage as it is generated."""
    now = conv.session.bus.now_ms  # the session clock (programs read it often)
    tokens_in, tokens_out = tokens
    closed = False
    try:
        if first_wait is not None:
            yield from first_token(conv, inst, first_wait)
        # tokens stream from the first token; a speculation hit's came before release
        lag = 0.0 if math.isnan(inst.tokens_from) else inst.tokens_from - inst.first_token
        if buffered:  # llm hooks need the full response: that wait is the cost
            yield (WAIT, 1000.0 * tokens_out / tps + lag)
            yield (EMIT, ev.LlmResponse, (raw, tokens_in, tokens_out))
            t0 = now()
            final = yield (CHAIN, "llm", raw)
            inst.chain_ms = now() - t0
            inst.text_ready = now()
            yield (PUT, final)
        else:
            final, ready = raw, inst.first_token + lag
            chunks, chunk_tokens = text_shape(conv.llm, raw)
            for i, chunk in enumerate(chunks):
                ready += 1000.0 * chunk_tokens[i] / tps
                yield (WAIT, ready - now())
                if i == 0:
                    inst.text_ready = now()
                yield (PUT, chunk)
            yield (EMIT, ev.LlmResponse, (raw, tokens_in, tokens_out))
        closed = True
        yield (PUT, None)
        conv.last_reply = final
        yield (EMIT, ev.AgentTurn, (final,))
    except BaseException as err:  # however generation ends (the call may end), close
        if not closed and not isinstance(err, GeneratorExit):
            yield (PUT, None)
        raise


def builtin_tts(conv: Any, speech: Speech, ttfb: float, lead: float):
    """The simulated TTS stage over the texts it GETs (what a ``tts`` hook wraps; a hook
    that fails hands the rest to a fresh run of it, which does not request again)."""
    now = conv.session.bus.now_ms  # the session clock (programs read it often)
    tts = conv.tts
    while (chunk := (yield _GET)) is not None:
        if not speech.requested:
            speech.requested = True
            if speech.inst is not None:
                speech.inst.tts_request = now()
            yield (EMIT, ev.TtsRequest, (chunk,))
            yield (WAIT, ttfb)
            yield (OUT, (lead,), (tts.pcm_ms(lead),), True)
        yield (OUT, *audio_pieces(tts, chunk), False)
        conv.spoken.append(chunk)


def speaker(conv: Any, speech: Speech, out_ms: float):
    """Plays the audio it PULLs to the caller until done or barged in on."""
    now = conv.session.bus.now_ms  # the session clock (programs read it often)
    inst, source = speech.inst, speech.source
    started = speaking = interrupted = False
    playhead = 0.0
    try:
        try:
            while not interrupted and (played := (yield _PULL)) is not None:
                t = now()  # the pieces of one hand-over arrive together
                for ms in played:
                    if not started:
                        started = True
                        if inst is not None:
                            inst.tts_first_audio = now()
                        yield (EMIT, ev.TtsFirstAudio, ())
                        if source == "reply" and (conv.voices or conv.queued):
                            # a filler (say()) came first: the answer plays after it
                            yield (AWAIT, conv.until_quiet)
                        yield (WAIT, out_ms)
                        if inst is not None:
                            inst.agent_speech_start = now()
                            conv.answered()
                        yield (EMIT, ev.AgentSpeechStart, (source,))
                        speaking = True
                        conv.voice_started()
                        # only a reply is barged in on; a stale instant from an earlier
                        # reply must not cut this one
                        barge = conv.barge_after_ms if source == "reply" else None
                        t = now()
                        conv.barge_in_at_ms = None if barge is None else t + barge
                        if source == "reply" and conv.resume_at_ms is not None:
                            # a caller cut off in a pause goes on, over the reply
                            conv.barge_in_at_ms = max(t, conv.resume_at_ms)
                    # audio is queued as it arrives (synthesis outruns real time); the
                    # playhead is when the queued audio will have played out
                    playhead = (playhead if playhead > t else t) + ms
                    at = conv.barge_in_at_ms
                    if at is not None and at < playhead:
                        conv.barge_in_at_ms = None
                        yield (WAIT, at - t)
                        interrupted = True
                        break
            if started and not interrupted:
                yield (WAIT, playhead - now())
        except ENDED:
            if speaking:  # a hang-up before the audio reached the caller ends nothing
                conv.voice_ended()
                yield (EMIT, ev.AgentSpeechEnd, (True, source))
            raise
    except BaseException as err:  # close the stream on every way out (not when closed)
        if not isinstance(err, GeneratorExit):
            yield _CLOSE
        raise
    # a barge-in leaves the tts stream (and a hook's generator) unfinished: close it here,
    # before the speech's end fires, not later in the loop's finalizer
    yield _CLOSE
    if started:
        conv.voice_ended()
        if interrupted:
            yield (EMIT, ev.Interruption, ())
        yield (EMIT, ev.AgentSpeechEnd, (interrupted, source))
    if not interrupted:
        lost = unspoken(speech.offered, conv.spoken[speech.spoken_before:])
        if lost:
            yield (AWAIT, lambda: conv.session.bus.emit_error("tts", lost, severity="warn"))
    if inst is not None:
        inst.interrupted = interrupted


def unspoken(offered: list[str], said: list[str]) -> str | None:
    """What a failing ``tts`` hook lost: text that went into the slot and never came out
    as audio, as the error row says it (None when nothing was lost)."""
    lost = [c for c in offered if c not in said]
    n_offered = sum(len(c.split()) for c in offered)
    n_said = sum(len(c.split()) for c in said)
    if not lost or n_said >= n_offered:
        return None
    return (f"{n_offered - n_said} of {n_offered} words were never spoken (the tts stream "
            f"lost them): {' '.join(c.strip() for c in lost)!r}")


def text_shape(llm: Any, raw: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A reply's pieces as streamed (sentences with their trailing space) and the tokens
    of each. Replies repeat (canned, scripted), so the built-in LLM's shapes are kept; a
    subclass may compute them differently, so its shapes are worked out every time."""
    if type(llm) is not LLM:
        return _text_shape(llm, raw)
    return _builtin_text_shape(raw, llm.tokens_per_word)


def audio_pieces(tts: Any, text: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The TTS stage's audio for ``text``: the ms of each chunk it yields, and how long
    each chunk's whole samples play."""
    if type(tts) is not TTS:
        return _audio_pieces(tts, text)
    return _builtin_audio_pieces(text, tts.words_per_s, tts.sample_rate, tts.chunk_ms)


@lru_cache(maxsize=4096)
def _builtin_text_shape(raw: str, tokens_per_word: float) -> tuple:
    return _text_shape(LLM(tokens_per_word=tokens_per_word), raw)


@lru_cache(maxsize=4096)
def _builtin_audio_pieces(text: str, words_per_s: float, sample_rate: int,
                          chunk_ms: float) -> tuple:
    return _audio_pieces(TTS(sample_rate=sample_rate, words_per_s=words_per_s,
                             chunk_ms=chunk_ms), text)


def _text_shape(llm: Any, raw: str) -> tuple:
    chunks = tuple(s + " " for s in llm.sentences(raw))
    return chunks, tuple(llm.tokens(c) for c in chunks)


def _audio_pieces(tts: Any, text: str) -> tuple:
    left, pieces = tts.duration_ms(text), []
    while left > 0:
        ms = min(tts.chunk_ms, left)
        left -= ms
        pieces.append(ms)
    return tuple(pieces), tuple(tts.pcm_ms(ms) for ms in pieces)


def wake_at(now: float, ms: float) -> float:
    """Where ``Conversation.sleep(ms)`` from ``now`` ends: whole microseconds, rounded as
    ``VirtualTimeLoop.advance`` rounds (``now`` is a clock reading, on the grid)."""
    if ms <= 0:
        return now
    return (round(now * 1000.0) + round(ms / 1000.0 * 1e6)) / 1000.0

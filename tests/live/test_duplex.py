"""Talking over the agent in a live call (agentlab/live/duplex.py): the caller's next turn
starts while the agent speaks, the VAD hears it on the same 100 ms chunks, and speech of
min_interruption_ms stops the agent; a short noise does not. Real speech (CMU ARCTIC),
real VAD, STT and TTS; realtime=False runs the same timeline without the waits."""

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from speech_text import wer, words

pytest.importorskip("faster_whisper", reason="needs the live extra")

import agentlab as al
from agentlab import live
from agentlab.runtime.caller import CallerTurn

DATA = Path(__file__).parents[1] / "data" / "speech"
REFS = {row["file"]: row["reference_text"] for row in
        csv.DictReader((DATA / "transcripts.tsv").open(), delimiter="\t")}
REPLY = ("Let me check that for you. Your order left our warehouse in Dallas on Monday "
         "morning, and it is now with the courier, who expects to deliver it on Friday "
         "afternoon, between two and five.")
LEAD = np.zeros(1600, np.float32)  # 100 ms before the speech, as a microphone has


def all_heard(ref, hyp):
    """Nothing lost: words are lost at a cut's edges, so the first and last words must be
    there; in between Whisper's own slips (at most two words) are not losses."""
    r, h = words(ref), words(hyp)
    return h[:1] == r[:1] and h[-1:] == r[-1:] and wer(ref, hyp)[0] <= 2


class Caller:
    """Scripted turns with their own audio: the agent's reply is fixed, the second turn
    starts ``barge_in_ms`` into it."""

    def __init__(self, second, barge_in_ms):
        self.second, self.barge_in_ms = second, barge_in_ms

    def turns(self):
        first = live.load_audio(DATA / "cmu_arctic_us_axb_a0005.wav")
        return [CallerTurn(REFS["cmu_arctic_us_axb_a0005.wav"], 300.0, reply=REPLY,
                           audio=np.concatenate([LEAD, first, np.zeros(8000, np.float32)])),
                CallerTurn("second", 300.0, self.barge_in_ms, reply="Sure, I can do that.",
                           audio=self.second)]


def run(caller, fired=None):
    async def handle_call(ctx):
        await ctx.session.run()

    rec = al.Recorder()
    pipeline = al.Pipeline()
    runner = al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)
    if fired is not None:  # the hooks a barge-in fires
        @runner.session_hooks.on("interruption")
        async def interrupted():
            fired.append("interruption")

        @pipeline.on("agent_turn_end")
        async def audio_done():
            fired.append("agent_turn_end")
    result = live.run_live_sync(runner, caller, realtime=False, recorder=rec)
    return rec, result


def speech(name):
    return np.concatenate([LEAD, live.load_audio(DATA / name), np.zeros(8000, np.float32)])


def test_speech_over_the_agent_stops_it_and_nothing_said_is_lost():
    name = "cmu_arctic_us_aew_a0003.wav"  # 3.4 s: "For the twentieth time that evening..."
    fired = []
    rec, result = run(Caller(speech(name), barge_in_ms=1200.0), fired)
    # the session's interruption hook and the pipeline's agent_turn_end fired for it
    assert fired[:2] == ["interruption", "agent_turn_end"] and \
        fired.count("interruption") == 1
    calls = rec.hooks.set_index("hook").t_ms
    interruption_at = rec.table("interruption").to_pylist()[0]["t_ms"]
    assert calls["interruption"] == pytest.approx(interruption_at, abs=1.0)  # its instant
    events = rec.events
    turn1 = events[events.turn_id == 1].set_index("event").t_ms
    interruption = rec.table("interruption").to_pylist()
    assert len(interruption) == 1 and interruption[0]["turn_id"] == 1
    at = interruption[0]["t_ms"]
    barge = turn1["agent_speech_start"] + 1200.0
    vad = live.SileroVAD()
    # the VAD needed min_interruption_ms of speech, then the agent stopped at that chunk
    assert barge + vad.min_interruption_ms <= at <= barge + vad.min_interruption_ms + 400
    # the agent's audio was held as soon as the VAD heard speech (LiveKit's
    # false-interruption pause), and stopped there when it became an interruption
    end = rec.table("agent_speech_end").to_pylist()[0]
    assert end["interrupted"] and barge < end["t_ms"] <= barge + vad.min_speech_ms + 300
    assert end["t_ms"] < at
    assert rec.turns.interrupted.tolist() == [True, False]
    # what the caller heard: the reply's first words, cut where the agent stopped
    heard = interruption[0]["heard"]
    assert heard and REPLY.startswith(heard) and len(heard) < len(REPLY)
    # the agent's recorded audio stops there too, until its next reply
    agent = result.audio[0].agent
    second_reply = rec.table("agent_speech_start").to_pylist()[1]["t_ms"]
    ends = [t + 1000 * len(x) / 16000 for t, x in agent if t < second_reply]
    assert max(ends) == pytest.approx(end["t_ms"], abs=1.0)
    # every word said over the agent is the caller's next turn
    said = " ".join(rec.turns.user_text.tolist()[1:])
    assert all_heard(REFS[name], said), said
    # the next turn's speech started before the interruption: it was heard from there on
    start2 = rec.table("user_speech_start").to_pylist()[1]["t_ms"]
    assert barge <= start2 < at


def test_a_short_sound_over_the_agent_does_not_interrupt():
    # 300 ms of speech (the start of "Will we ever forget it."): the VAD hears speech,
    # shorter than min_interruption_ms, as a backchannel or a cough is
    x = live.load_audio(DATA / "cmu_arctic_us_axb_a0005.wav")
    onset = int(0.192 * 16000)
    short = x[onset:onset + 4800]
    vad = live.SileroVAD()
    assert vad.segments(np.concatenate([LEAD, short, np.zeros(16000, np.float32)]),
                        vad.pause_ms)  # it is speech to the VAD
    name = "cmu_arctic_us_aew_a0003.wav"
    second = np.concatenate([LEAD, short, np.zeros(16000 * 12, np.float32),
                             live.load_audio(DATA / name), np.zeros(8000, np.float32)])
    rec, result = run(Caller(second, barge_in_ms=800.0))
    assert len(rec.table("interruption")) == 0
    assert not rec.turns.interrupted.any()
    assert not rec.table("agent_speech_end").to_pylist()[0]["interrupted"]
    # the agent held while the VAD heard the sound and resumed after it: its reply is all
    # there, played that much later
    agent = result.audio[0].agent
    reply_end = rec.table("agent_speech_end").to_pylist()[0]["t_ms"]
    played = sum(len(x) for t, x in agent if t < reply_end) / 16000
    gaps = sorted((p for p in agent if p[0] < reply_end), key=lambda p: p[0])
    held = [b[0] - (a[0] + 1000 * len(a[1]) / 16000) for a, b in itertools.pairwise(gaps)]
    assert max(held) >= 100  # a hold, then the rest of the reply
    false = rec.table("false_interruption").to_pylist()  # said, for the quality table
    assert len(false) == 1 and false[0]["held_ms"] == pytest.approx(max(held), abs=110)
    assert rec.quality["false_interruptions"].iloc[0] == 1
    assert played * 1000 == pytest.approx(
        reply_end - rec.table("agent_speech_start").to_pylist()[0]["t_ms"] - max(held),
        abs=150)
    # the reply played to its end; the caller's speech after it is heard whole
    assert all_heard(REFS[name], rec.turns.user_text.iloc[-1]), rec.turns.user_text


def test_a_streamed_caller_is_cut_into_turns_and_talks_over_the_agent():
    """The microphone's way: one continuous stream fed in real time from another thread
    (as the widget's messages arrive), the VAD cutting the turns, the caller talking over
    the agent's first reply."""
    import threading
    import time

    first, second = "cmu_arctic_us_axb_a0005.wav", "cmu_arctic_us_aew_a0003.wav"
    quiet = lambda s: np.zeros(int(16000 * s), np.float32)
    said = np.concatenate([quiet(0.5), live.load_audio(DATA / first), quiet(1.0),
                           live.load_audio(DATA / second), quiet(4.0)])
    stream = live.LiveAudio()

    def speak():  # 100 ms chunks at the pace they are spoken
        for i in range(0, len(said), 1600):
            stream.append(said[i:i + 1600])
            time.sleep(0.1)
        stream.close()

    async def handle_call(ctx):
        await ctx.session.run()

    rec = al.Recorder()
    runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
    threading.Thread(target=speak, daemon=True).start()
    live.run_live_sync(runner, live.StreamCaller(stream), realtime=True, recorder=rec)
    texts = rec.turns.user_text.tolist()
    assert len(texts) == 2, texts
    assert all_heard(REFS[first], texts[0]) and all_heard(REFS[second], texts[1]), texts
    assert len(rec.table("interruption")) == 1
    assert rec.turns.interrupted.tolist() == [True, False]
    # the second turn's speech started over the agent's first reply, 1 s after the first
    starts = [r["t_ms"] for r in rec.table("user_speech_start").to_pylist()]
    ends = [r["t_ms"] for r in rec.table("user_speech_end").to_pylist()]
    assert starts[1] - ends[0] == pytest.approx(1000, abs=250)
    agent_start = rec.table("agent_speech_start").to_pylist()[0]["t_ms"]
    assert agent_start < starts[1]

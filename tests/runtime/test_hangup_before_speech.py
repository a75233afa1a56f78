"""A caller who hangs up after the agent's first audio is synthesized but before it reaches
them (between ``tts_first_audio`` and ``agent_speech_start``) never heard the agent: no
``agent_speech_start`` and so no ``agent_speech_end``, on the planned and on the streamed
path alike (the streamed path used to fire an ``agent_speech_end`` without a start)."""

import agentlab as al
from agentlab.hooks import run_tts

PROFILE = {"name": "fixed", "stages": {
    "transport_in_ms": 0, "vad_silence_ms": 200, "stt_ms": 50, "endpointing_ms": 300,
    "llm_ttft_ms": 500, "llm_tokens_per_s": 50, "tts_ttfb_ms": 100,
    "tts_leading_silence_ms": 0, "transport_out_ms": 400}}


def scenario(patience_ms=None):
    persona = {"pause_ms": 500} | ({"patience_ms": patience_ms} if patience_ms else {})
    return al.Scenario.from_dict({"id": "hangs-up", "persona": persona,
                                  "turns": [{"user": "Where is my order?",
                                             "agent": "Let me check that for you."}]}, "test")


def run(patience_ms=None, streamed=False):
    pipeline = al.Pipeline()
    if streamed:
        @pipeline.on("tts")
        async def same(text_stream):
            async for pcm in run_tts(text_stream):
                yield pcm

    async def handle_call(ctx):
        await ctx.session.run()

    rec = al.Recorder()
    al.simulate_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline),
                     scenarios=[scenario(patience_ms)], profile=PROFILE,
                     recorder=rec)
    return rec.events[rec.events.event != "hook_call"]


def test_a_hangup_before_the_first_audio_arrives_fires_no_speech_end():
    ev = run()
    at = dict(zip(ev.event, ev.t_ms, strict=False))  # the first of each
    first_audio, start = at["tts_first_audio"], at["agent_speech_start"]
    assert start - first_audio == 400
    patience = (first_audio + start) / 2 - at["user_speech_end"]
    planned, streamed = run(patience), run(patience, streamed=True)
    for events in (planned, streamed):
        names = events.event.tolist()
        assert "tts_first_audio" in names and names[-1] == "session_end"
        assert "agent_speech_start" not in names and "agent_speech_end" not in names, names
        assert events[events.event == "session_end"].name.iloc[0] == "hangup"
    cols = ["event", "t_ms", "name", "text"]
    assert planned[cols].astype(str).values.tolist() == streamed[cols].astype(str).values.tolist()

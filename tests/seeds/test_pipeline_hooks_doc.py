"""Every example of the pipeline-hooks document, run on simulated calls
(``from videosdk.agents import Pipeline`` -> ``from agentlab import Pipeline, run_stt, run_tts``)."""

import logging
import re

import agentlab as al
from agentlab import Pipeline, run_stt, run_tts


def runner_for(pipeline):
    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)


def make_pipeline(**kw):
    return Pipeline(stt=al.sim.STT(), llm=al.sim.LLM(**kw), tts=al.sim.TTS(),
                    vad=al.sim.VAD(), turn_detector=al.sim.TurnDetector())


def test_stt_hook_filters_audio_and_removes_fillers():
    pipeline = make_pipeline()

    @pipeline.on("stt")
    async def stt_hook(audio_stream):
        async def filtered_audio():
            async for audio in audio_stream:
                if len(audio) < 300:
                    continue
                yield audio

        async for event in run_stt(filtered_audio()):
            if event.data and event.data.text:
                text = event.data.text.lower()
                text = re.sub(r"\b(uh|um|like)\b", "", text)
                event.data.text = " ".join(text.split())
            yield event

    sim = al.simulate_sync(runner_for(pipeline), ["Um I uh need to um change my address"])
    assert [e.text for e in sim.events if e.name == "user_turn"] == [
        "i need to change my address"]


def test_tts_hook_changes_what_is_synthesized():
    pipeline = make_pipeline(replies=("We open at 9 AM and close at 5 PM.",))

    @pipeline.on("tts")
    async def tts_hook(text_stream):
        async def preprocess():
            async for text in text_stream:
                yield text.replace("AM", "A M").replace("PM", "P M")

        async for audio in run_tts(preprocess()):
            yield audio

    sim = al.simulate_sync(runner_for(pipeline), ["When are you open?"])
    assert "".join(sim.calls[0].spoken).strip() == "We open at 9 A M and close at 5 P M."
    # the stored reply is the LLM's text; the tts hook only changes pronunciation
    assert [e.text for e in sim.events if e.name == "agent_turn"] == [
        "We open at 9 AM and close at 5 PM."]


def test_llm_redaction_changes_spoken_and_stored_text_and_costs_buffering():
    reply = "Your SSN ends in 1234. Anything else I can do for you today?"

    def build(with_hook):
        pipeline = make_pipeline(replies=(reply,))
        if with_hook:
            @pipeline.on("llm")
            async def filter_response(data: dict):
                text = data.get("text", "")
                return text.replace("SSN", "[REDACTED]")
        return pipeline

    hooked = al.simulate_sync(runner_for(build(True)), ["What is on file?"], seed=4)
    plain = al.simulate_sync(runner_for(build(False)), ["What is on file?"], seed=4)
    assert "".join(hooked.calls[0].spoken).strip() == reply.replace("SSN", "[REDACTED]")
    assert [e.text for e in hooked.events if e.name == "agent_turn"] == [
        reply.replace("SSN", "[REDACTED]")]
    h, p = hooked.turns().iloc[0], plain.turns().iloc[0]
    # waiting for the full response instead of the first sentence shows up in llm_rest
    assert h.llm_rest_ms > p.llm_rest_ms
    assert h.total_e2e_ms > p.total_e2e_ms


def test_llm_yield_and_observe_examples():
    seen = []
    pipeline = make_pipeline(replies=("Open 9 AM to 5 PM.",))

    @pipeline.on("llm")
    async def on_llm(data: dict):
        text = data.get("text", "")
        logging.info(f"LLM generated: {text[:100]}...")
        seen.append(text)

    @pipeline.on("llm")
    async def format_response(data: dict):
        text = data.get("text", "")
        yield text.replace("AM", "A M").replace("PM", "P M")

    sim = al.simulate_sync(runner_for(pipeline), ["Hours?"])
    assert seen == ["Open 9 AM to 5 PM."]
    assert [e.text for e in sim.events if e.name == "agent_turn"] == ["Open 9 A M to 5 P M."]


def test_lifecycle_hooks_fire_at_documented_instants():
    pipeline = make_pipeline()
    log = []

    @pipeline.on("user_turn_start")
    async def on_user_start(transcript: str):
        log.append(("user_turn_start", transcript))

    @pipeline.on("user_turn_end")
    async def on_user_end():
        log.append(("user_turn_end",))

    @pipeline.on("agent_turn_start")
    async def on_agent_start():
        log.append(("agent_turn_start",))

    @pipeline.on("agent_turn_end")
    async def on_agent_done():
        log.append(("agent_turn_end",))

    sim = al.simulate_sync(runner_for(pipeline), ["Hello there.", "Bye now."])
    assert log == [("user_turn_start", "Hello there."), ("agent_turn_start",),
                   ("agent_turn_end",), ("user_turn_end",)] + [
        ("user_turn_start", "Bye now."), ("agent_turn_start",), ("agent_turn_end",),
        ("user_turn_end",)]
    by = {(e.turn_id, e.name): e.t_ms for e in sim.events}
    # agent_turn_start is the first audio byte, not the LLM request
    assert by[(1, "agent_speech_start")] > by[(1, "tts_first_audio")] > by[(1, "llm_request")]
    assert by[(1, "turn_end")] >= by[(1, "agent_speech_end")]


def test_vision_frame_example_runs_through_the_bus():
    pipeline = make_pipeline()

    def apply_filter(frame):
        return frame * 2

    @pipeline.on("vision_frame")
    async def process_frames(frame_stream):
        async for frame in frame_stream:
            processed = apply_filter(frame)
            yield processed

    async def frames():
        for i in range(3):
            yield i

    async def go():
        bus = al.Session(pipeline=pipeline).make_bus()
        return [f async for f in bus.chained_stream("vision_frame", frames())]

    from agentlab.clock import run_virtual
    assert run_virtual(go()) == [0, 2, 4]

"""Writes livekit_audio.otlp.jsonl, livekit_audio.metrics.jsonl and livekit_audio.report.json:
a real LiveKit Agents voice session (audio in and out), offline.

Run it in its own venv (``make trace-fixtures``). LiveKit's own ``AgentSession`` runs in a
fake job (``livekit.agents.testing.fake_job_context``, no room, no network) with tracing on
through ``livekit.agents.telemetry``. Its audio input is a microphone stand-in giving 20 ms
frames in real time (a tone while the caller speaks, silence otherwise: two utterances);
its audio output plays what it is given in real time and reports playback as a transport
does. STT, LLM and TTS are written against LiveKit's ``stt.STT``/``RecognizeStream``,
``llm.LLM``/``LLMStream`` and ``tts.TTS``/``ChunkedStream`` base classes: the STT ends a
transcript 0.3 s into the caller's silence and answers 120 ms later, the LLM answers after
250 ms (the first reply calls the ``lookup_order`` tool, 150 ms), the TTS gives 80 ms of
audio per word after 90 ms. Turn detection is the STT's (``turn_detection="stt"``).

Written: the trace (OTLP/JSON lines), every ``metrics_collected`` event as a JSON line
(``ev.model_dump(mode="json")``), and the session report (``ctx.make_session_report``,
``SessionReport.to_dict()``).
"""

import asyncio
import json
import time
from pathlib import Path

import numpy as np
from livekit import rtc
from livekit.agents import Agent, AgentSession, function_tool, llm, stt, tts
from livekit.agents.llm import ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall
from livekit.agents.telemetry import set_tracer_provider
from livekit.agents.testing import fake_job_context
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities
from make_pipecat_trace import write_otlp_json
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

HERE = Path(__file__).parent
SR, FRAME = 16000, 320  # 20 ms frames
SCRIPT = [(0.5, 1.0, "Where is my order?"), (7.0, 0.8, "Thanks.")]  # start s, length s, text
END_S = 11.0


class Microphone(AudioInput):
    def __init__(self):
        super().__init__(label="fixture-microphone")
        self.frames, self.t0 = 0, None

    async def __anext__(self):
        loop = asyncio.get_running_loop()
        self.t0 = self.t0 or loop.time()
        t = self.frames * FRAME / SR
        if t > END_S:
            raise StopAsyncIteration
        await asyncio.sleep(max(0.0, self.t0 + t - loop.time()))
        self.frames += 1
        speaking = any(start <= t < start + length for start, length, _ in SCRIPT)
        n = np.arange(FRAME) + self.frames * FRAME
        tone = np.sin(2 * np.pi * 220 * n / SR) * 8000 * speaking
        return rtc.AudioFrame(tone.astype(np.int16).tobytes(), SR, 1, FRAME)


class FakeSTT(stt.STT):
    def __init__(self):
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))

    async def _recognize_impl(self, buffer, *, language=None, conn_options=None):
        raise NotImplementedError("streaming only")

    def stream(self, *, language=None, conn_options=DEFAULT_API_CONNECT_OPTIONS):
        return FakeSTTStream(stt=self, conn_options=conn_options)


class FakeSTTStream(stt.RecognizeStream):
    async def _run(self):
        texts = [text for _, _, text in SCRIPT]
        speaking, silent, heard = False, 0.0, 0.0
        async for frame in self._input_ch:
            if isinstance(frame, self._FlushSentinel):
                continue
            loud = np.abs(np.frombuffer(frame.data, np.int16)).max() > 1000
            heard += frame.samples_per_channel / frame.sample_rate
            if loud:
                if not speaking:
                    self._event_ch.send_nowait(
                        stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH))
                speaking, silent = True, 0.0
            elif speaking:
                silent += frame.samples_per_channel / frame.sample_rate
                if silent >= 0.3:
                    speaking = False
                    await asyncio.sleep(0.12)
                    data = stt.SpeechData(language="en", text=texts.pop(0), confidence=0.95)
                    for kind in (stt.SpeechEventType.FINAL_TRANSCRIPT,
                                 stt.SpeechEventType.END_OF_SPEECH):
                        self._event_ch.send_nowait(stt.SpeechEvent(type=kind,
                                                                   alternatives=[data]))
                    self._event_ch.send_nowait(stt.SpeechEvent(
                        type=stt.SpeechEventType.RECOGNITION_USAGE,
                        recognition_usage=stt.RecognitionUsage(audio_duration=heard)))
                    heard = 0.0


class FakeStream(llm.LLMStream):
    async def _run(self):
        await asyncio.sleep(0.25)
        last = self._chat_ctx.items[-1]
        if last.type == "message" and "order" in (last.text_content or ""):
            call = FunctionToolCall(name="lookup_order", arguments='{"order_id": "A17"}',
                                    call_id="call_1")
            self._event_ch.send_nowait(
                ChatChunk(id="r", delta=ChoiceDelta(role="assistant", tool_calls=[call])))
        else:
            for word in ["Your ", "order ", "ships ", "Friday."]:
                self._event_ch.send_nowait(
                    ChatChunk(id="r", delta=ChoiceDelta(role="assistant", content=word)))
                await asyncio.sleep(0.02)
        self._event_ch.send_nowait(ChatChunk(id="r", usage=CompletionUsage(
            completion_tokens=6, prompt_tokens=42, total_tokens=48)))


class FakeLLM(llm.LLM):
    def chat(self, *, chat_ctx, tools=None, conn_options=None, **kwargs):
        return FakeStream(self, chat_ctx=chat_ctx, tools=tools or [],
                          conn_options=conn_options or DEFAULT_API_CONNECT_OPTIONS)


class FakeTTS(tts.TTS):
    def __init__(self):
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=SR,
                         num_channels=1)

    def synthesize(self, text, *, conn_options=DEFAULT_API_CONNECT_OPTIONS):
        return FakeChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class FakeChunkedStream(tts.ChunkedStream):
    async def _run(self, output_emitter):
        output_emitter.initialize(request_id="tts", sample_rate=SR, num_channels=1,
                                  mime_type="audio/pcm")
        await asyncio.sleep(0.09)
        words = len(self._input_text.split())
        output_emitter.push(b"\x00\x00" * int(SR * 0.08 * words))
        output_emitter.flush()


class Speaker(AudioOutput):
    """Stands in for the room's audio track: plays each segment out in real time."""

    def __init__(self):
        super().__init__(label="fixture-speaker", capabilities=AudioOutputCapabilities(
            pause=False), sample_rate=SR)
        self.pushed, self.started, self.playing = 0.0, None, set()

    async def capture_frame(self, frame):
        await super().capture_frame(frame)
        if self.started is None:
            self.started = time.time()
            self.on_playback_started(created_at=self.started)
        self.pushed += frame.duration

    def flush(self):
        super().flush()
        if self.started is None:
            return
        pushed, started = self.pushed, self.started
        self.pushed, self.started = 0.0, None

        async def play_out():
            await asyncio.sleep(max(0.0, started + pushed - time.time()))
            self.on_playback_finished(playback_position=pushed, interrupted=False)

        task = asyncio.ensure_future(play_out())
        self.playing.add(task)
        task.add_done_callback(self.playing.discard)

    def clear_buffer(self):
        pass


class OrderAgent(Agent):
    def __init__(self):
        super().__init__(instructions="You help with orders.")

    @function_tool
    async def lookup_order(self, order_id: str) -> str:
        """Look up an order."""
        await asyncio.sleep(0.15)
        return "ships Friday"


async def main(kept):
    provider = TracerProvider(resource=Resource.create({"service.name": "livekit-agents"}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    set_tracer_provider(provider)
    metrics = []
    with fake_job_context() as ctx:
        session = AgentSession(stt=FakeSTT(), llm=FakeLLM(), tts=FakeTTS(),
                               turn_detection="stt")
        session.on("metrics_collected", lambda ev: metrics.append(ev.model_dump(mode="json")))
        session.input.audio = Microphone()
        session.output.audio = Speaker()
        await session.start(OrderAgent())
        await asyncio.sleep(END_S + 1.0)
        await session.aclose()
        report = ctx.make_session_report(session)
    provider.force_flush()
    (HERE / "livekit_audio.metrics.jsonl").write_text(
        "".join(json.dumps(m) + "\n" for m in metrics))
    (HERE / "livekit_audio.report.json").write_text(
        json.dumps(report.to_dict(), default=str) + "\n")


if __name__ == "__main__":
    kept = InMemorySpanExporter()
    asyncio.run(main(kept))
    write_otlp_json(kept.get_finished_spans(), HERE / "livekit_audio.otlp.jsonl")
    print("wrote livekit_audio.otlp.jsonl, .metrics.jsonl, .report.json")

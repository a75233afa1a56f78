"""Writes pipecat.otlp.jsonl: a real Pipecat pipeline's OpenTelemetry trace, offline.

Run it in its own venv (``make trace-fixtures``): pipecat-ai pins protobuf<7 and
soundfile~=0.13.1, which the test venv's pins do not allow, and the tests only read the
file it writes. The pipeline is Pipecat's own PipelineWorker with tracing and turn tracking
on; the services are written against Pipecat's base classes with Pipecat's own tracing
decorators (no network): an LLM answering after 250 ms with token usage, a TTS giving
1.2 s of audio after 90 ms, and an output stage that plays the audio out in real time and
says when the bot starts and stops speaking, as a transport does. The caller speaks three
turns; in the second they talk over the reply (an interrupted turn).

Also writes pipecat_calls.otlp.jsonl, a week of calls for notebooks/10_your_calls: 24
calls of 3-6 turns, eight at a time, each request's latency drawn (seeded); and
pipecat.metrics.jsonl: every metrics frame's data as a JSON line (the class
name as ``type``, the pipeline clock's ``timestamp_ns``, then the model's own fields), by
an observer (``MetricsJSONLObserver``) next to Pipecat's ``MetricsLogObserver``.
"""

import asyncio
import json
import math
import random
from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage
from pipecat.observers.base_observer import BaseObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_llm, traced_tts
from pipecat.utils.tracing.setup import setup_tracing
from pipecat.workers.runner import WorkerRunner

OUT = Path(__file__).with_name("pipecat.otlp.jsonl")
METRICS = Path(__file__).with_name("pipecat.metrics.jsonl")
WEEK = Path(__file__).with_name("pipecat_calls.otlp.jsonl")


class MetricsJSONLObserver(BaseObserver):
    """Writes each MetricsFrame's data as JSON lines, once per frame (its first push)."""

    def __init__(self, path):
        super().__init__()
        self.out = open(path, "w")

    async def on_push_frame(self, data):
        if isinstance(data.frame, MetricsFrame) and data.first_push:
            for item in data.frame.data:
                self.out.write(json.dumps({"type": type(item).__name__,
                                           "timestamp_ns": data.timestamp,
                                           **item.model_dump(mode="json")}) + "\n")
            self.out.flush()


class FakeLLM(LLMService):
    def __init__(self, ttfb=lambda: 0.25, **kw):
        super().__init__(**kw)
        self.ttfb = ttfb  # seconds to the first token, drawn per request

    def can_generate_metrics(self):
        return True

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._process_context(frame.context)
        else:
            await self.push_frame(frame, direction)

    @traced_llm
    async def _process_context(self, context):
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_ttfb_metrics()
        await asyncio.sleep(self.ttfb())
        await self.stop_ttfb_metrics()
        for word in ["Your ", "order ", "ships ", "Friday."]:
            await self.push_frame(LLMTextFrame(word))
            await asyncio.sleep(0.02)
        await self.start_llm_usage_metrics(LLMTokenUsage(prompt_tokens=42, completion_tokens=6,
                                                         total_tokens=48))
        await self.push_frame(LLMFullResponseEndFrame())

class FakeTTS(TTSService):
    def __init__(self, ttfb=lambda: 0.09, **kw):
        super().__init__(sample_rate=16000, push_start_frame=True, **kw)
        self.ttfb = ttfb

    def can_generate_metrics(self):
        return True

    @traced_tts
    async def run_tts(self, text, context_id):
        await self.start_ttfb_metrics()
        await asyncio.sleep(self.ttfb())
        await self.stop_ttfb_metrics()
        await self.start_tts_usage_metrics(text)
        yield TTSAudioRawFrame(audio=b"\x00\x00" * 19200, sample_rate=16000, num_channels=1,
                               context_id=context_id)

class FakeOutput(FrameProcessor):
    """Stands in for the output transport: bot speaking frames around the audio."""
    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):  # plays the audio out, in real time
            await self.push_frame(BotStartedSpeakingFrame())
            await self.push_frame(BotStartedSpeakingFrame(), FrameDirection.UPSTREAM)
            await asyncio.sleep(len(frame.audio) / (2 * frame.sample_rate))
            await self.push_frame(BotStoppedSpeakingFrame())
            await self.push_frame(BotStoppedSpeakingFrame(), FrameDirection.UPSTREAM)

async def call(conversation_id, turns, llm_ttfb=lambda: 0.25, tts_ttfb=lambda: 0.09,
               observers=()):
    """One call through Pipecat's worker: ``turns`` are (what the caller says, seconds
    they listen before the next turn; under the reply's length they talk over it)."""
    pipeline = Pipeline([FakeLLM(ttfb=llm_ttfb), FakeTTS(ttfb=tts_ttfb), FakeOutput()])
    worker = PipelineWorker(pipeline, enable_tracing=True, enable_turn_tracking=True,
                            conversation_id=conversation_id, cancel_on_idle_timeout=False,
                            params=PipelineParams(enable_metrics=True,
                                                  enable_usage_metrics=True),
                            observers=list(observers))
    started = asyncio.Event()
    @worker.event_handler("on_pipeline_started")
    async def _s(w, f): started.set()
    async def push():
        await asyncio.wait_for(started.wait(), 5)
        ctx = LLMContext(messages=[])
        for text, listen in turns:
            await worker.queue_frame(VADUserStartedSpeakingFrame())
            await worker.queue_frame(UserStartedSpeakingFrame())
            await asyncio.sleep(0.6)
            await worker.queue_frame(VADUserStoppedSpeakingFrame())
            await asyncio.sleep(0.2)
            await worker.queue_frame(UserStoppedSpeakingFrame())
            await worker.queue_frame(TranscriptionFrame(text, "user", "2026-01-01T00:00:00Z"))
            ctx.add_message({"role": "user", "content": text})
            await worker.queue_frame(LLMContextFrame(ctx))
            await asyncio.sleep(listen)
        await worker.queue_frame(EndFrame())
    runner = WorkerRunner()
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), push())


async def main():
    # the tests' call: fixed latencies, three turns, the caller talks over the second reply
    await call("fixture-1", [("Where is my order?", 3.5), ("Can you check again?", 0.8),
                             ("Thanks.", 4.5)], observers=[MetricsJSONLObserver(METRICS)])
    # a week of calls for the notebook (pipecat_calls.otlp.jsonl): eight at a time, each
    # request's latency drawn (lognormal LLM time to first token around 420 ms with a
    # heavier tail, TTS around 140 ms), seeded
    rng = random.Random(20)
    lines = ["Hi, I need help with an order.", "It was order A17.", "When will it ship?",
             "Can I change the address?", "Okay, thanks.", "That's all."]
    async def one(k):
        draw = random.Random(rng.random())
        llm = lambda: min(3.0, draw.lognormvariate(math.log(0.42), 0.45))
        tts = lambda: draw.lognormvariate(math.log(0.14), 0.3)
        turns = [(text, 3.0) for text in lines[: 3 + k % 4]]
        await call(f"week-{k:02d}", turns, llm, tts)
    for batch in range(3):
        await asyncio.gather(*(one(8 * batch + k) for k in range(8)))

def write_otlp_json(spans, path):
    """OTLP/JSON lines, one ExportTraceServiceRequest per trace (hex ids), as a
    collector's file exporter writes them."""
    import base64

    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    def hex_ids(node):
        if isinstance(node, dict):
            return {k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId")
                    else hex_ids(v) for k, v in node.items()}
        return [hex_ids(v) for v in node] if isinstance(node, list) else node

    traces = {}
    for span in spans:
        traces.setdefault(span.context.trace_id, []).append(span)
    with open(path, "w") as out:
        for trace_spans in traces.values():
            out.write(json.dumps(hex_ids(MessageToDict(encode_spans(trace_spans))),
                                 separators=(",", ":")) + "\n")


if __name__ == "__main__":
    kept = InMemorySpanExporter()
    setup_tracing("pipecat-fixture", exporter=kept)
    asyncio.run(main())
    from opentelemetry import trace

    trace.get_tracer_provider().force_flush()
    spans = kept.get_finished_spans()
    fixture = {s.context.trace_id for s in spans if s.name == "conversation"
               and s.attributes.get("conversation.id") == "fixture-1"}
    write_otlp_json([s for s in spans if s.context.trace_id in fixture], OUT)
    write_otlp_json([s for s in spans if s.context.trace_id not in fixture], WEEK)
    print("wrote", OUT, WEEK)

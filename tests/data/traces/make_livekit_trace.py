"""Writes livekit.otlp.jsonl: a real LiveKit Agents session's OpenTelemetry trace, offline.

Run it in its own venv (``make trace-fixtures``, with make_pipecat_trace.py). LiveKit's own
``AgentSession`` runs two turns in its text mode (``session.run(user_input=...)``, no room,
no audio, no network) with tracing on through ``livekit.agents.telemetry``; the LLM is
written against LiveKit's ``llm.LLM``/``llm.LLMStream`` base classes: it answers after
250 ms, streams four chunks and reports token usage. Text mode has no audio, so the trace
has no user_turn, eou_detection or tts_node spans.
"""

import asyncio
from pathlib import Path

from livekit.agents import Agent, AgentSession, llm
from livekit.agents.llm import ChatChunk, ChoiceDelta, CompletionUsage
from livekit.agents.telemetry import set_tracer_provider
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from make_pipecat_trace import write_otlp_json
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

OUT = Path(__file__).with_name("livekit.otlp.jsonl")


class FakeStream(llm.LLMStream):
    async def _run(self):
        await asyncio.sleep(0.25)
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


async def main(kept):
    provider = TracerProvider(resource=Resource.create({"service.name": "livekit-agents"}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    set_tracer_provider(provider)
    async with AgentSession(llm=FakeLLM()) as session:
        await session.start(Agent(instructions="You help with orders."))
        for text in ["Where is my order?", "Thanks."]:
            await session.run(user_input=text)
    provider.force_flush()


if __name__ == "__main__":
    kept = InMemorySpanExporter()
    asyncio.run(main(kept))
    write_otlp_json(kept.get_finished_spans(), OUT)
    print("wrote", OUT)

"""Recordings in and out: OpenTelemetry traces (extra ``otel``).

>>> import agentlab as al
>>> async def entry(ctx):
...     await ctx.session.run()
>>> rec = al.Recorder()
>>> _ = al.simulate_sync(al.AgentRunner(entrypoint=entry), ["Hi there."], recorder=rec)
>>> spans = rec.to_otel()                       # doctest: +SKIP
>>> sorted({s.name for s in spans})[:3]         # doctest: +SKIP
['agentlab.endpointing', 'agentlab.llm_hooks', 'agentlab.llm_rest']
"""

from .otel import to_otel, write_otlp_json
from .read import TraceReadError, read

__all__ = ["TraceReadError", "read", "to_otel", "write_otlp_json"]

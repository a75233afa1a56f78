"""OTLP/JSON trace requests (one ``ExportTraceServiceRequest`` per line, as a collector's
file exporter writes them) as recorder rows:

* agentlab's own export (:func:`agentlab.io.to_otel`): every canonical event is a span
  event of the call's ``conversation`` span, its ``agentlab.*`` attributes the fields;
* Pipecat's traces (``agentlab/io/pipecat.py`` has the mapping);
* LiveKit Agents' traces (``agentlab/io/livekit.py``).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

from .. import events as ev
from ..errors import ConfigError
from ..recorder.recorder import LABELS
from . import livekit, pipecat
from .otel import CONTENT_FIELDS, FORMAT
from .spans import json_or_text

FORMATS = (FORMAT, "pipecat-otlp", "livekit-otlp")
_MAPPERS = {"pipecat-otlp": pipecat, "livekit-otlp": livekit}


def is_request(first: Any) -> bool:
    return isinstance(first, dict) and "resourceSpans" in first


class Reader:
    """Turns OTLP/JSON requests (one per line) into recorder rows: agentlab's calls as
    they come (each is one span's events), Pipecat's and LiveKit's by trace once the lines
    are read (a collector may split a trace's spans across lines)."""

    def __init__(self, rec: Any, format: str | None, unknown: Counter, name: str):
        self.rec, self.format, self.unknown, self.name = rec, format, unknown, name
        self.traces: dict[str, tuple[str, list[dict]]] = {}  # trace id -> (kind, spans)
        self.done: set[str] = set()  # traces read (their root span came)

    def line(self, request: dict) -> None:
        for resource_spans in request["resourceSpans"]:
            resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            scopes = resource_spans.get("scopeSpans", [])
            spans = [span for scope in scopes for span in scope.get("spans", [])]
            names = {scope.get("scope", {}).get("name", "") for scope in scopes}
            kind = self._kind(resource, names)
            if kind == FORMAT:
                for span in spans:
                    if span.get("name") == "conversation":
                        _read_call(span, self.rec, self.unknown, f"{FORMAT}:{self.name}")
                continue
            roots = []
            for span in spans:
                trace_id = span["traceId"]
                if trace_id in self.done:
                    self.unknown["span after its trace's root span (not read)"] += 1
                    continue
                self.traces.setdefault(trace_id, (kind, []))[1].append(span)
                if span["name"] == _MAPPERS[kind].ROOT:
                    roots.append(trace_id)
            # a root span ends, and is exported, after all its children: its trace is
            # whole, so it is read now and memory holds one trace, not the file
            for trace_id in roots:
                self._read_trace(trace_id)

    def _kind(self, resource: dict, scope_names: set[str]) -> str:
        if resource.get("agentlab.format") == FORMAT:
            return FORMAT
        if self.format in ("pipecat-otlp", "livekit-otlp"):
            return self.format
        if pipecat.is_pipecat(resource, scope_names):
            return "pipecat-otlp"
        if livekit.is_livekit(resource, scope_names):
            return "livekit-otlp"
        raise ConfigError(
            "this trace was written neither by agentlab (no agentlab.format resource "
            "attribute) nor by Pipecat or LiveKit Agents (no 'pipecat' or 'livekit-agents' "
            "scope or service name); pass format= if it was.")

    def finish(self) -> None:
        for trace_id in list(self.traces):  # traces whose root never came: what is there
            self._read_trace(trace_id)

    def _read_trace(self, trace_id: str) -> None:
        kind, spans = self.traces.pop(trace_id)
        self.done.add(trace_id)
        rows = _MAPPERS[kind].rows_of_trace(spans, _span_attributes, self.unknown)
        take = self.rec.take
        for row in rows:
            take(row)
        if rows:
            self.rec.label(rows[0][1], source=f"{kind}:{self.name}")


def _span_attributes(span: dict) -> dict[str, Any]:
    return _LazyAttributes({pair["key"]: pair.get("value") for pair in
                            span.get("attributes", ())})


class _LazyAttributes(dict):
    """A Pipecat or LiveKit span's attributes, each value decoded when a mapper asks for
    it: most (prompts, tool definitions, settings) never are, and decoding them all was
    most of the time of reading a big trace."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key)
        return default if value is None else _value(value)

    def __getitem__(self, key: str) -> Any:
        return _value(dict.__getitem__(self, key))


def _read_call(span: dict, rec: Any, unknown: Counter, source: str) -> None:
    attrs = _attributes(span.get("attributes", []))
    sid = attrs["agentlab.session_id"]
    labels = {k.removeprefix("agentlab."): v for k, v in attrs.items()
              if k.removeprefix("agentlab.") in LABELS}
    rec.label(sid, **{"source": source, **labels})  # a run's own source, when exported
    take, shapes = rec.take, _SHAPES
    for event in span.get("events", ()):
        # the hot loop of a big import (one pass per recorded event): the attribute list
        # is decoded straight into the row, each class's shape looked up once
        shape = shapes.get(event["name"])
        if shape is None:
            shape = _shape(event["name"], unknown)
            if shape is None:
                continue
        cls, keys, fields, known = shape
        fields = dict(fields)  # the defaults, overwritten by what the event carries
        for pair in event.get("attributes", ()):
            key = pair["key"]
            if key not in known:
                unknown[key] += 1
            for kind, raw in pair["value"].items():
                fields[key] = _SCALARS[kind](raw) if kind in _SCALARS else raw
        convert = _CONVERT
        take((cls, sid, fields["agentlab.turn_id"], fields["agentlab.seq"],
              float(fields["agentlab.t_ms"]),
              tuple([convert[key](fields[key]) if key in convert else fields[key]
                     for key in keys])))


_SHAPES: dict[str, tuple] = {}


def _shape(name: str, unknown: Counter) -> tuple | None:
    """An event's class, its own fields as attribute keys, the row it makes when the trace
    left a field out (content not captured, an exception object), and every key it knows."""
    cls = ev.EVENT_TYPES.get(name)
    if cls is None:
        unknown[f"event {name}"] += 1
        return None
    own = dataclasses.fields(cls)[4:]
    keys = tuple(f"agentlab.{f.name}" for f in own)
    defaults = {f"agentlab.{f.name}": _default(f) for f in own}
    known = frozenset(f"agentlab.{f.name}" for f in dataclasses.fields(cls))
    _SHAPES[name] = (cls, keys, defaults, known)
    return _SHAPES[name]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()  # an empty dict or tuple: not changed by a row
    return None


def _segments(raw: Any) -> Any:
    if not isinstance(raw, str):  # the field's default: the trace left it out
        return raw
    return tuple((s["name"], float(s["ms"])) for s in json.loads(raw))


# fields agentlab's export writes as JSON text: the rest are the attribute's own value
_CONVERT = {
    "agentlab.segments": _segments,
    "agentlab.tool_calls": lambda raw: tuple(json.loads(raw)) if isinstance(raw, str) else raw,
    **{f"agentlab.{name}": json_or_text for name in CONTENT_FIELDS - {"text"}},
}


_SCALARS = {"stringValue": str, "intValue": int, "doubleValue": float, "boolValue": bool}


def _attributes(pairs: list[dict]) -> dict[str, Any]:
    """OTLP/JSON key-value list -> dict."""
    return {pair["key"]: _value(pair.get("value") or {}) for pair in pairs}


def _value(value: dict) -> Any:
    """An OTLP/JSON ``AnyValue`` (intValue is a string in the JSON mapping; an array or
    key-value list is kept as the JSON holds it; an empty value is None)."""
    for kind, raw in value.items():  # one entry: the value's kind
        convert = _SCALARS.get(kind)
        return convert(raw) if convert else raw
    return None

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
import typing
from collections import Counter
from typing import Any

from .. import events as ev
from ..errors import ConfigError
from ..recorder.recorder import LABELS
from . import livekit, pipecat
from .otel import CONTENT_FIELDS, FORMAT

FORMATS = (FORMAT, "pipecat-otlp", "livekit-otlp")


def is_request(first: Any) -> bool:
    return isinstance(first, dict) and "resourceSpans" in first


class Reader:
    """Turns OTLP/JSON requests (one per line) into recorder rows: agentlab's calls as
    they come (each is one span's events), Pipecat's and LiveKit's by trace once the lines
    are read (a collector may split a trace's spans across lines)."""

    def __init__(self, rec: Any, format: str | None, unknown: Counter, name: str):
        self.rec, self.format, self.unknown, self.name = rec, format, unknown, name
        self.traces: dict[str, tuple[str, list[dict]]] = {}  # trace id -> (kind, spans)

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
            for span in spans:
                self.traces.setdefault(span["traceId"], (kind, []))[1].append(span)

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
        for kind, spans in self.traces.values():
            mapper = pipecat if kind == "pipecat-otlp" else livekit
            rows = mapper.rows_of_trace(spans, _span_attributes, self.unknown)
            for row in rows:
                self.rec.take(row)
            if rows:
                self.rec.label(rows[0][1], source=f"{kind}:{self.name}")
        self.traces.clear()


def _span_attributes(span: dict) -> dict[str, Any]:
    return _attributes(span.get("attributes", []))


def _read_call(span: dict, rec: Any, unknown: Counter, source: str) -> None:
    attrs = _attributes(span.get("attributes", []))
    sid = attrs["agentlab.session_id"]
    labels = {k.removeprefix("agentlab."): v for k, v in attrs.items()
              if k.removeprefix("agentlab.") in LABELS}
    rec.label(sid, **{"source": source, **labels})  # a run's own source, when exported
    for event in span.get("events", []):
        cls = ev.EVENT_TYPES.get(event["name"])
        if cls is None:
            unknown[f"event {event['name']}"] += 1
            continue
        fields = _attributes(event.get("attributes", []))
        rec.take(_row(cls, sid, fields, unknown))


def _row(cls: type[ev.Event], sid: str, fields: dict, unknown: Counter) -> tuple:
    own = dataclasses.fields(cls)[4:]
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in fields:
        if key.removeprefix("agentlab.") not in names:
            unknown[key] += 1
    values = []
    for f in own:
        raw = fields.get(f"agentlab.{f.name}", _MISSING)
        if raw is _MISSING:  # content left out of the trace, or an exception object
            values.append(_default(f))
        else:
            values.append(_typed(raw, hints[f.name], f.name))
    return (cls, sid, int(fields["agentlab.turn_id"]), int(fields["agentlab.seq"]),
            float(fields["agentlab.t_ms"]), tuple(values))


_MISSING = object()


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _typed(raw: Any, hint: Any, name: str) -> Any:
    if name == "segments":
        return tuple((s["name"], float(s["ms"])) for s in json.loads(raw))
    if name == "tool_calls":
        return tuple(json.loads(raw))
    if name in CONTENT_FIELDS - {"text"}:  # free-form, written as JSON text
        try:
            return json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            return raw
    return raw


def _attributes(pairs: list[dict]) -> dict[str, Any]:
    """OTLP/JSON key-value list -> dict (intValue is a string in the JSON mapping)."""
    out = {}
    for pair in pairs:
        value = pair.get("value", {})
        if "stringValue" in value:
            out[pair["key"]] = value["stringValue"]
        elif "intValue" in value:
            out[pair["key"]] = int(value["intValue"])
        elif "doubleValue" in value:
            out[pair["key"]] = float(value["doubleValue"])
        elif "boolValue" in value:
            out[pair["key"]] = bool(value["boolValue"])
        else:
            out[pair["key"]] = None
    return out

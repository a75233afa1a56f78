"""Read traces back into a :class:`~agentlab.Recorder`: the same eight tables.

Read today, from OTLP/JSON lines (one ``ExportTraceServiceRequest`` per line, as a
collector's file exporter writes them):

* agentlab's own export (:func:`agentlab.io.to_otel`): every canonical event is a span
  event of the call's ``conversation`` span, its ``agentlab.*`` attributes the fields;
* Pipecat's traces (``agentlab/io/pipecat.py`` has the mapping);
* LiveKit Agents' traces (``agentlab/io/livekit.py``).
"""

from __future__ import annotations

import dataclasses
import json
import typing
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from .. import events as ev
from ..errors import AgentlabWarning, ConfigError
from . import livekit, pipecat
from .otel import CONTENT_FIELDS, FORMAT

FORMATS = (FORMAT, "pipecat-otlp", "livekit-otlp")


class TraceReadError(ConfigError):
    """A trace file could not be read past some line; ``recorder`` holds the calls read
    before it."""

    def __init__(self, message: str, recorder: Any):
        super().__init__(message)
        self.recorder = recorder


def read(path: str | Path, format: str | None = None) -> Any:
    """A Recorder from the trace file ``path``: OTLP/JSON lines, written by agentlab
    (``"agentlab-otlp"``), Pipecat's tracing (``"pipecat-otlp"``) or LiveKit Agents'
    (``"livekit-otlp"``); ``format`` is detected from the file when not given."""
    from ..recorder import Recorder

    if format not in (None, *FORMATS):
        raise ConfigError(f"agentlab.io.read(format={format!r}): the formats read today are "
                          f"{', '.join(map(repr, FORMATS))}.")
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"agentlab.io.read: no file {str(path)!r}.")
    rec = Recorder()
    reader = _Reader(rec, format)
    with path.open() as lines:
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except json.JSONDecodeError as err:
                reader.finish()
                raise TraceReadError(
                    f"{path}:{lineno}: not OTLP/JSON ({err.msg} at column {err.colno}); the "
                    f"file may be truncated. The {len(rec.session_ids())} calls read before "
                    f"this line are in this error's .recorder.", rec) from None
            try:
                reader.request(request)
            except ConfigError:
                raise
            except (KeyError, TypeError, ValueError) as err:
                reader.finish()
                raise TraceReadError(
                    f"{path}:{lineno}: not an OTLP/JSON trace request agentlab can read "
                    f"({type(err).__name__}: {err}). The {len(rec.session_ids())} calls read "
                    f"before this line are in this error's .recorder.", rec) from None
    reader.finish()
    if reader.unknown:
        names = ", ".join(f"{k} ({n})" for k, n in reader.unknown.most_common(5))
        warnings.warn(f"agentlab.io.read({path.name}): ignored "
                      f"{sum(reader.unknown.values())} attributes agentlab does not know: "
                      f"{names}", AgentlabWarning, stacklevel=2)
    rec.flush()
    return rec


class _Reader:
    """Turns OTLP/JSON requests into recorder rows: agentlab's calls as they come (each
    is one span's events), Pipecat's and LiveKit's by trace once the lines are read (a
    collector may split a trace's spans across lines)."""

    def __init__(self, rec: Any, format: str | None):
        self.rec, self.format = rec, format
        self.unknown: Counter = Counter()
        self.traces: dict[str, tuple[Any, list[dict]]] = {}  # trace id -> (mapper, spans)

    def request(self, request: dict) -> None:
        for resource_spans in request["resourceSpans"]:
            resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
            scopes = resource_spans.get("scopeSpans", [])
            spans = [span for scope in scopes for span in scope.get("spans", [])]
            names = {scope.get("scope", {}).get("name", "") for scope in scopes}
            kind = self._kind(resource, names)
            if kind == FORMAT:
                for span in spans:
                    if span.get("name") == "conversation":
                        _read_call(span, self.rec, self.unknown)
                continue
            mapper = pipecat if kind == "pipecat-otlp" else livekit
            for span in spans:
                self.traces.setdefault(span["traceId"], (mapper, []))[1].append(span)

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
        for mapper, spans in self.traces.values():
            for row in mapper.rows_of_trace(spans, _span_attributes, self.unknown):
                self.rec.take(row)
        self.traces.clear()


def _span_attributes(span: dict) -> dict[str, Any]:
    return _attributes(span.get("attributes", []))


def _read_call(span: dict, rec: Any, unknown: Counter) -> None:
    attrs = _attributes(span.get("attributes", []))
    sid = attrs["agentlab.session_id"]
    labels = {k.removeprefix("agentlab."): v for k, v in attrs.items()
              if k.removeprefix("agentlab.") in ("scenario_id", "config", "seed",
                                                  "call_index", "repeat")}
    rec.label(sid, **labels)
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

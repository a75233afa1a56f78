"""Arrow schemas for canonical events, derived once from the event dataclasses.

Every event type gets an explicit schema (names, types) so record batches never infer
types from data. Free-form fields (tool ``args``/``result``) are stored as JSON text, the
``exception`` object of an ``error`` event is not stored (its type and message are), and
``turn_end.segments`` becomes a list of (name, ms) structs.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import fields
from operator import attrgetter
from typing import Any

import pyarrow as pa

from .. import events as ev

COMMON = ("session_id", "turn_id", "seq", "t_ms")
SEGMENT_TYPE = pa.list_(pa.struct([("name", pa.string()), ("ms", pa.float64())]))
_SKIP = {"exception"}
_SIMPLE = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _arrow_type(name: str, hint: Any) -> pa.DataType:
    if name == "segments":
        return SEGMENT_TYPE
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and args[0] in _SIMPLE:
            return _SIMPLE[args[0]]
    if origin is tuple and typing.get_args(hint)[:1] == (str,):
        return pa.list_(pa.string())
    return pa.string()  # JSON text


class EventSchema:
    """How one event type becomes a RecordBatch."""

    def __init__(self, cls: type[ev.Event]):
        hints = typing.get_type_hints(cls)
        self.cls = cls
        self.fields = [f.name for f in fields(cls) if f.name not in _SKIP]
        self.schema = pa.schema([(n, _arrow_type(n, hints[n])) for n in self.fields])
        self._json = {n for n in self.fields
                      if self.schema.field(n).type == pa.string() and hints[n] not in
                      (str, str | None)}
        self._get = attrgetter(*self.fields)

    def batch(self, events: list[ev.Event]) -> pa.RecordBatch:
        columns = list(zip(*map(self._get, events), strict=True)) if events else \
            [[] for _ in self.fields]
        arrays = []
        for name, values in zip(self.fields, columns, strict=True):
            if name in self._json:
                values = [None if v is None else _json(v) for v in values]
            elif name == "segments":
                values = [[{"name": k, "ms": ms} for k, ms in v] for v in values]
            arrays.append(pa.array(values, type=self.schema.field(name).type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, default=repr, sort_keys=True)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


SCHEMAS: dict[str, EventSchema] = {name: EventSchema(cls)
                                   for name, cls in ev.EVENT_TYPES.items()}

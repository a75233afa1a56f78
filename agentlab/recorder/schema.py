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
from dataclasses import MISSING, fields
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from .. import events as ev

COMMON = ("session_id", "turn_id", "seq", "t_ms")
SEGMENT_TYPE = pa.list_(pa.struct([("name", pa.string()), ("ms", pa.float64())]))
_SKIP = {"exception"}
# The recorder's Arrow buffers come from the C allocator: they are many mid-sized,
# long-lived buffers built from growing ones, and mimalloc (Arrow's default) keeps more
# resident for that pattern (bench_recorder, 10^6 events: ~252 MB peak with mimalloc,
# ~235 MB with these buffers on the C allocator).
POOL = pa.system_memory_pool()
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
        # rows are (cls, session_id, turn_id, seq, t_ms, own fields): the common columns
        # are items 1-4 of a row, the event's own ones items of its fields tuple
        own = [f for f in fields(cls) if f.name not in COMMON]
        self._defaults = tuple(_default(f) for f in own)
        position = {f.name: i for i, f in enumerate(own)}
        self._columns = [(n, n in COMMON, COMMON.index(n) + 1 if n in COMMON else position[n],
                          self.schema.field(n).type) for n in self.fields]


    def batch(self, rows: list[tuple], coerced: list | None = None) -> pa.RecordBatch:
        """Event rows of this type as one batch; a value of the wrong type is coerced
        (see _coerced) and reported in ``coerced`` as (row, field, value)."""
        # One C-level map per field: transposing through a tuple per event would allocate
        # a million tracked objects per million events and wake the garbage collector.
        own = list(map(_FIELDS, rows))
        n = len(self._defaults)
        if own and min(map(len, own)) < n:  # an event emitted with defaults left out
            defaults = self._defaults
            own = [f + defaults[len(f):] if len(f) < n else f for f in own]
        arrays = []
        for name, common, at, kind in self._columns:
            values = list(map(itemgetter(at), rows if common else own))
            if name in self._json:
                values = [None if v is None else _json(v) for v in values]
            elif name == "segments":
                arrays.append(_segments_array(values))
                continue
            try:
                arrays.append(pa.array(values, type=kind, memory_pool=POOL))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
                # a value of the wrong type got into an event (the sources check what
                # they take; this is the last guard): keep the row, coerce the value
                fixed, bad = _coerced(values, kind)
                arrays.append(pa.array(fixed, type=kind, memory_pool=POOL))
                if coerced is not None:
                    coerced.extend((rows[i], name, values[i]) for i in bad)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


_FIELDS = itemgetter(5)


def _default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None  # a required field is always given


def _coerced(values: list, kind: pa.DataType) -> tuple[list, list[int]]:
    """``values`` made to fit ``kind`` one by one: text for a string column, a number for
    a numeric one where it converts, else null; and the indexes that needed it."""
    fixed, bad = [], []
    for i, v in enumerate(values):
        try:
            pa.array([v], type=kind)
            fixed.append(v)
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
            bad.append(i)
        if pa.types.is_string(kind):
            fixed.append(str(v))
        elif pa.types.is_list(kind) and isinstance(v, (list, tuple)):
            fixed.append([str(x) for x in v])
        else:
            try:
                fixed.append(float(v) if pa.types.is_floating(kind) else
                             bool(v) if pa.types.is_boolean(kind) else int(v))
            except (TypeError, ValueError, OverflowError):
                fixed.append(None)
    return fixed, bad


def _segments_array(values: list[tuple[tuple[str, float], ...]]) -> pa.Array:
    """``turn_end.segments`` ((name, ms) pairs per turn) as list<struct<name, ms>>, built
    from flat columns and offsets rather than a dict per segment."""
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(list(map(len, values)), out=offsets[1:])
    pairs = list(chain.from_iterable(values))
    names = [p[0] for p in pairs]
    ms = [p[1] for p in pairs]
    items = pa.StructArray.from_arrays(
        [pa.array(names, pa.string(), memory_pool=POOL),
         pa.array(ms, pa.float64(), memory_pool=POOL)], names=["name", "ms"])
    return pa.ListArray.from_arrays(pa.array(offsets, memory_pool=POOL), items,
                                    type=SEGMENT_TYPE, pool=POOL)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, default=repr, sort_keys=True)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


SCHEMAS: dict[str, EventSchema] = {name: EventSchema(cls)
                                   for name, cls in ev.EVENT_TYPES.items()}

"""The recorder: an observer of every canonical event that turns a run into tables.

Ingest is one list append per event. Every ``FLUSH_EVERY`` events the buffer is split by
event type and converted column-wise into Arrow record batches with an explicit schema
(:mod:`agentlab.recorder.schema`), so memory stays compact and nothing is inferred or
dropped. Tables are built from the batches on demand (:mod:`agentlab.recorder.tables`).

Example
-------
>>> import agentlab as al
>>> async def handle_call(ctx): await ctx.session.run()
>>> runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
>>> rec = al.Recorder()
>>> sim = al.simulate_sync(runner, ["Hi there."], calls=2, seed=1, recorder=rec)
>>> rec.statistics()["events"] == len(sim.events)
True
>>> list(rec.turns.columns[:4])
['run_id', 'session_id', 'scenario_id', 'config']
"""

from __future__ import annotations

import difflib
import itertools
import typing
import warnings
from collections import Counter, defaultdict
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute

from .. import events as ev
from ..errors import AgentlabWarning, ConfigError
from .schema import POOL, SCHEMAS

FLUSH_EVERY = 16_384
LABELS = ("scenario_id", "config", "seed", "call_index", "repeat", "source")
AGENTLAB_SOURCE = "agentlab"  # the source label of agentlab's own calls (imports name the file)
_run_numbers = itertools.count(1)
_TYPE_CODE = {cls: i for i, cls in enumerate(ev.EVENT_TYPES.values())}
_class_of = itemgetter(0)


class Recorder:
    """Records canonical events; pass it to ``al.simulate(..., recorder=rec)``, or
    ``rec.attach(runner)`` to record every call the runner handles.

    Tables (pandas DataFrames, built on access): ``events``, ``turns``, ``segments``,
    ``tools``, ``hooks``, ``errors``, ``sessions``, ``usage``, ``quality``.
    ``save(path)`` writes them as Parquet; :meth:`load` reads them back.
    """

    def __init__(self, run_id: str | None = None, config: str | None = None):
        self.run_id = run_id or f"run-{next(_run_numbers)}"
        self.config = config
        self._buffer: list[tuple] = []  # event rows in arrival order, until flush
        self._flushed = 0  # events already in Arrow batches
        self._batches: dict[str, list[pa.RecordBatch]] = defaultdict(list)
        self._counts: Counter = Counter()
        self._labels: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, Any] = {}
        self._coerced: Counter = Counter()  # (event, field): values of the wrong type
        self._runs = 0  # begin_run()
        # set by Experiment.run(): whether every call ran (stop() keeps the finished part)
        self.complete = True
        self.calls_total: int | None = None
        self.calls_done: int | None = None

    # -- ingest ---------------------------------------------------------------------
    def __call__(self, event: ev.Event) -> None:
        """Record one event object (the bus hands the recorder rows: :meth:`take`)."""
        self.take(ev.row_of(event))

    def take(self, row: tuple) -> None:
        """Record one event row ``(cls, session_id, turn_id, seq, t_ms, fields)``, as
        the bus publishes them: no event object is built for the recorder."""
        buffer = self._buffer
        buffer.append(row)  # the whole per-event cost; sorting by type waits for flush
        if len(buffer) >= FLUSH_EVERY:
            self._auto_flush()

    take.rows = True  # HookBus.subscribe: hand this observer rows, not objects

    def _auto_flush(self) -> None:
        """A flush on the event path must not raise into the bus (it would drop this
        recorder, and every later event with it): on an unexpected failure the events
        stay buffered (flush keeps nothing half-done), a warning says so, and the next
        flush (at the next threshold, or when a table is read) tries again."""
        try:
            self.flush()
        except Exception as err:  # reported, and retried by the next flush
            warnings.warn(f"Recorder: converting {len(self._buffer):,} buffered events "
                          f"failed ({type(err).__name__}: {err}); they stay buffered and "
                          f"the next flush tries again.", AgentlabWarning, stacklevel=2)

    @property
    def _count(self) -> int:
        return self._flushed + len(self._buffer)

    def flush(self) -> None:
        """Move buffered events into Arrow batches, one per event type, each row keeping
        its arrival number (done automatically every ``FLUSH_EVERY`` events)."""
        buffer = self._buffer
        if not buffer:
            return
        base = self._flushed
        codes = np.fromiter(map(_TYPE_CODE.__getitem__, map(_class_of, buffer)),
                            dtype=np.int16, count=len(buffer))
        order = np.argsort(codes, kind="stable")  # by type, arrival order within a type
        cuts = np.flatnonzero(np.diff(codes[order])) + 1
        coerced: list[tuple] = []
        made = []  # every batch is built before any is kept: a failure loses nothing
        for idx in np.split(order, cuts):
            rows = list(map(buffer.__getitem__, idx.tolist()))
            name = rows[0][0].name
            batch = SCHEMAS[name].batch(rows, coerced)
            made.append((name, batch.append_column(
                "row", pa.array(idx + base, type=pa.int64(), memory_pool=POOL))))
        for name, batch in made:
            self._batches[name].append(batch)
            self._counts[name] += batch.num_rows
        self._buffer, self._flushed = [], base + len(buffer)
        self._cache.clear()
        if coerced:
            self._report(coerced)

    def _report(self, coerced: list[tuple]) -> None:
        """Bad values kept as coerced ones: counted in ``statistics()["coerced"]`` and
        said once per event field, with where they came from."""
        for row, name, value in coerced:
            cls = row[0]
            key = (cls.name, name)
            if key not in self._coerced:
                warnings.warn(f"Recorder: {cls.name}.{name} of session "
                              f"{row[1]!r} was {type(value).__name__} {value!r}, "
                              f"not the {_expected(cls, name)} the event declares; "
                              f"recorded as coerced (the row is kept). Fix the code that "
                              f"set it (a hook or a call's argument).", AgentlabWarning,
                              stacklevel=3)
            self._coerced[key] += 1

    def begin_run(self) -> int:
        """Count one more run (a simulate or live call) recorded here; its number. A
        run after the first gets its own session ids, so two runs never share rows."""
        self._runs += 1
        return self._runs

    def label(self, session_id: str, **labels: Any) -> None:
        """Attach labels (``scenario_id``, ``config``, ``seed``, ...) to one session's rows."""
        self._labels.setdefault(session_id, {}).update(labels)
        self._cache.clear()

    def attach(self, target: Any) -> Recorder:
        """Record every call of a runner (or anything with a ``recorders`` list)."""
        if not hasattr(target, "recorders"):
            raise TypeError(f"cannot attach a Recorder to {type(target).__name__}; attach it "
                            f"to an al.AgentRunner or pass recorder= to al.simulate().")
        if self not in target.recorders:
            target.recorders.append(self)
        return self

    def to_otel(self, path: Any = None, **options: Any) -> list:
        """This recording as OpenTelemetry traces: written to ``path`` as OTLP/JSON and/or
        sent to ``exporter=`` (any SpanExporter); ``capture_content=True`` puts transcripts
        and tool arguments in (see :func:`agentlab.io.to_otel`). Needs the otel extra."""
        from ..io.otel import to_otel

        return to_otel(self, path, **options)

    def statistics(self) -> dict[str, Any]:
        """How many events were recorded, in total and per event type (nothing is ever
        dropped: ``events`` equals the number of events published to the recorder)."""
        pending = Counter(row[0].name for row in self._buffer)
        per_type = self._counts + pending
        return {"events": self._count, "sessions": len(self.session_ids()),
                "by_event": dict(sorted(per_type.items())), "batches":
                sum(len(b) for b in self._batches.values()),
                "coerced": {f"{e}.{f}": n for (e, f), n in sorted(self._coerced.items())}}

    def session_ids(self) -> list[str]:
        starts = self.table("session_start")
        return starts.column("session_id").to_pylist() if starts.num_rows else []

    # -- moving runs between processes ----------------------------------------------
    def export(self) -> dict[str, Any]:
        """The recorded data as plain picklable parts (for :meth:`merge`)."""
        self.flush()
        return {"batches": {k: list(v) for k, v in self._batches.items()},
                "labels": {k: dict(v) for k, v in self._labels.items()},
                "count": self._count, "config": self.config}

    @classmethod
    def merge(cls, parts: list[dict[str, Any]], run_id: str | None = None) -> Recorder:
        """One recorder from exported parts, in the given order (arrival order is kept
        part by part, so the result does not depend on which part finished first)."""
        rec = cls(run_id=run_id)
        offset = 0
        seen: set[str] = set()
        for k, part in enumerate(parts, 1):
            ids = _part_session_ids(part)
            # parts of one experiment never share a session id; separate runs (same
            # agent, same seed) do: the later part's calls are renamed, never merged
            prefix = f"m{k}:" if seen & ids else ""
            seen |= {prefix + sid for sid in ids}
            for name, batches in part["batches"].items():
                for batch in batches:
                    at = batch.schema.get_field_index("row")
                    rows = pa.compute.add(batch.column(at), pa.scalar(offset, pa.int64()))
                    batch = batch.set_column(at, "row", rows)
                    if prefix:
                        batch = _prefixed(batch, prefix)
                    rec._batches[name].append(batch)
                    rec._counts[name] += batch.num_rows
            for sid, labels in part["labels"].items():
                config = labels.get("config") or part.get("config")
                rec.label(prefix + sid, **{**labels, "config": config})
            offset += part["count"]
        rec._flushed = offset
        return rec

    # -- raw tables -----------------------------------------------------------------
    def table(self, event: str) -> pa.Table:
        """All recorded events of one type as an Arrow table (every field, plus ``row``,
        the arrival order)."""
        if event not in SCHEMAS:
            close = difflib.get_close_matches(event, list(SCHEMAS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"Recorder.table({event!r}): no such event.{hint} Events: "
                              f"{', '.join(sorted(SCHEMAS))}.")
        self.flush()
        key = f"arrow:{event}"
        if key not in self._cache:
            schema = SCHEMAS[event].schema.append(pa.field("row", pa.int64()))
            self._cache[key] = pa.Table.from_batches(self._batches.get(event, []), schema=schema)
        return self._cache[key]

    def labels_frame(self):
        import pandas as pd

        rows = [{"session_id": sid, **labels} for sid, labels in self._labels.items()]
        frame = pd.DataFrame(rows, columns=["session_id", *LABELS]).astype(
            {"scenario_id": object, "config": object, "source": object})
        if self.config is not None:
            frame["config"] = frame["config"].fillna(self.config)
        return frame

    # -- tables ---------------------------------------------------------------------
    def _frame(self, name: str):
        from . import tables

        if name not in self._cache:
            self.flush()
            self._cache[name] = getattr(tables, f"build_{name}")(self)
        return self._cache[name]

    events = property(lambda self: self._frame("events"),
                      doc="One row per canonical event (long form).")
    turns = property(lambda self: self._frame("turns"),
                     doc="One row per turn: texts, flags, segments, peer-named metrics.")
    segments = property(lambda self: self._frame("segments"),
                        doc="One row per turn and segment, in pipeline order.")
    tools = property(lambda self: self._frame("tools"), doc="One row per tool call.")
    hooks = property(lambda self: self._frame("hooks"), doc="One row per hook handler call.")
    errors = property(lambda self: self._frame("errors"), doc="One row per error.")
    sessions = property(lambda self: self._frame("sessions"), doc="One row per call.")
    usage = property(lambda self: self._frame("usage"),
                     doc="Per call: LLM tokens, TTS characters, STT seconds.")
    quality = property(lambda self: self._frame("quality"),
                       doc="Per call: interruptions, barge-in recovery, talk-to-listen, "
                           "longest monologue, overlap and gaps between the speakers.")

    # -- storage --------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the run as a Parquet dataset folder, atomically (see storage)."""
        from .storage import save

        return save(self, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> Recorder:
        """Read a run saved with :meth:`save`; its tables equal the saved ones."""
        from .storage import load

        return load(cls, Path(path))

    def __repr__(self) -> str:
        return (f"Recorder({self.run_id!r}, {self._count} events, "
                f"{len(self._labels)} labelled sessions)")


def _expected(cls: type[ev.Event], name: str) -> str:
    hint = typing.get_type_hints(cls).get(name)
    return getattr(hint, "__name__", str(hint))


def _part_session_ids(part: dict[str, Any]) -> set[str]:
    starts = part["batches"].get("session_start", [])
    return {sid for b in starts for sid in b.column("session_id").to_pylist()}


def _prefixed(batch: pa.RecordBatch, prefix: str) -> pa.RecordBatch:
    at = batch.schema.get_field_index("session_id")
    ids = pa.compute.binary_join_element_wise(pa.scalar(prefix), batch.column(at), "")
    return batch.set_column(at, "session_id", ids)

"""Saving runs: an atomic Parquet folder per run, and a DuckDB store across runs.

A run folder holds ``run.json`` (the manifest) and one data folder per save
(``v-<id>/``: a Parquet file per event type, lossless, plus the session labels). ``save``
writes a new data folder, then replaces the manifest that names it in one atomic rename,
then removes the older data folders: a save killed at any instant leaves the previous run
whole (its manifest still names its data), and a reader never sees half a run. Saves to
one path take a lock (``.lock``), so two processes saving there take turns; whatever an
interrupted save left behind is removed by the next one. Loading checks every file and
gives back a recorder whose tables equal the saved one's; a damaged run is a
``ConfigError`` naming the file and what is wrong with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError
from .schema import SCHEMAS

MANIFEST = "run.json"
LABELS = "labels.parquet"
EVENT_KEY = "agentlab.event"  # Parquet metadata: the event type a file holds
TABLES = ("events", "turns", "segments", "tools", "hooks", "errors", "sessions", "usage",
          "quality")


def save(rec: Any, path: Path) -> Path:
    rec.flush()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is a file; save a run to a folder path.")
    path.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        data = f"v-{uuid.uuid4().hex[:12]}"
        tmp = path / data
        tmp.mkdir()
        try:
            for name in SCHEMAS:
                table = rec.table(name)
                if table.num_rows:  # the file says which events it holds (checked at load)
                    pq.write_table(table.replace_schema_metadata({EVENT_KEY: name}),
                                   tmp / f"{name}.parquet")
            labels = rec.labels_frame()
            pq.write_table(pa.Table.from_pandas(labels.astype({"seed": "Int64"}),
                                                preserve_index=False), tmp / LABELS)
            manifest = path / f".{MANIFEST}.{data}"
            manifest.write_text(json.dumps({
                "run_id": rec.run_id, "config": rec.config, "data": data,
                "statistics": rec.statistics()}, indent=2))
            _fsync(tmp)
            os.replace(manifest, path / MANIFEST)  # the instant the new run takes over
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _remove_all_but(path, data)
    return path


@contextlib.contextmanager
def _locked(path: Path):
    with open(path / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the OS if the process dies
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fsync(folder: Path) -> None:
    for file in folder.iterdir():
        with open(file, "rb") as f:
            os.fsync(f.fileno())


def _remove_all_but(path: Path, data: str) -> None:
    """Older data folders, leftovers of interrupted saves, and files of the layout before
    data folders (a run saved by an older agentlab, now replaced)."""
    for item in path.iterdir():
        if item.name in (data, MANIFEST, ".lock"):
            continue
        if item.is_dir() and item.name.startswith("v-"):
            shutil.rmtree(item, ignore_errors=True)
        elif item.name.endswith(".parquet") or item.name.startswith(f".{MANIFEST}."):
            item.unlink(missing_ok=True)


def load(cls: type, path: Path) -> Any:
    meta = _manifest(path)
    folder = path / meta["data"] if meta.get("data") else path  # before data folders
    if not folder.is_dir():
        raise ConfigError(f"{path / MANIFEST} names the data folder {meta['data']!r}, "
                          f"which is missing: the run is damaged; save it again.")
    expected = meta.get("statistics", {}).get("by_event", {})
    batches, count = {}, 0
    for name in SCHEMAS:
        file = folder / f"{name}.parquet"
        if not file.exists():
            if expected.get(name):
                raise ConfigError(f"{file}: missing, but {MANIFEST} counts "
                                  f"{expected[name]} {name} events; the run is damaged.")
            continue
        table = _read(file)
        want = SCHEMAS[name].schema.append(pa.field("row", pa.int64()))
        held = (table.schema.metadata or {}).get(EVENT_KEY.encode(), name.encode()).decode()
        if held != name:
            raise ConfigError(f"{file}: holds {held} events, not {name}; the run is "
                              f"damaged (files swapped or renamed).")
        if not table.schema.equals(want):
            raise ConfigError(f"{file}: not a table of {name} events (its columns are "
                              f"{', '.join(table.schema.names)}); the run is damaged.")
        if name in expected and table.num_rows != expected[name]:
            raise ConfigError(f"{file}: {table.num_rows} rows, but {MANIFEST} counts "
                              f"{expected[name]}; the run is damaged (a truncated write?).")
        batches[name] = table.to_batches()
        count += table.num_rows
    labels = _read(folder / LABELS).to_pandas()
    if "session_id" not in labels.columns:
        raise ConfigError(f"{folder / LABELS}: no session_id column; the run is damaged.")
    part = {"batches": batches, "count": count, "config": meta.get("config"),
            "labels": {row.pop("session_id"): {k: (None if _missing(v) else v)
                                               for k, v in row.items()}
                       for row in labels.to_dict("records")}}
    rec = cls.merge([part], run_id=meta["run_id"])
    rec.config = meta.get("config")
    return rec


def _manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    if not file.exists():
        raise ConfigError(f"{path}: not a saved agentlab run (no {MANIFEST}).")
    try:
        meta = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{file}: not a readable run manifest ({err}); the run is "
                          f"damaged.") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("run_id"), str):
        raise ConfigError(f"{file}: a run manifest needs a 'run_id' string; the run is "
                          f"damaged.")
    return meta


def _read(file: Path) -> pa.Table:
    if not file.exists():
        raise ConfigError(f"{file}: missing; the run is damaged.")
    try:
        return pq.read_table(file)
    except (pa.ArrowException, OSError) as err:
        raise ConfigError(f"{file}: not a readable Parquet file ({err}); the run is "
                          f"damaged.") from None


def _missing(value: Any) -> bool:
    try:
        return bool(value != value) or value is None  # NaN / NA / None
    except (TypeError, ValueError):
        return value is None


class Store:
    """Runs across time in one DuckDB file: ``store.append(recorder)`` adds a run's tables
    (rows keep their ``run_id``); ``store.sql(query)`` and ``store.table(name)`` answer as
    DataFrames.

    >>> store = Store(":memory:")
    >>> store.runs().empty
    True
    """

    def __init__(self, path: str | Path):
        try:
            import duckdb
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError("al.Store needs duckdb: pip install 'agentlab[store]'") from err
        self.path = str(path)
        self._db = duckdb.connect(self.path)

    def append(self, rec: Any) -> None:
        """Add every table of ``rec``; a run id can be stored once."""
        if rec.run_id in set(self.runs().get("run_id", [])):
            raise ConfigError(f"run {rec.run_id!r} is already in {self.path}; give the "
                              f"Recorder another run_id=.")
        self._db.begin()
        try:
            for name in TABLES:
                df = getattr(rec, name)
                df = df.astype({c: "string" for c in df.columns
                                if str(df[c].dtype) == "category"})
                self._db.register("incoming", df)
                exists = self._db.execute(
                    "select count(*) from information_schema.tables where table_name = ?",
                    [name]).fetchone()[0]
                if exists:
                    self._db.execute(f"insert into {name} by name select * from incoming")
                else:
                    self._db.execute(f"create table {name} as select * from incoming")
                self._db.unregister("incoming")
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise

    def sql(self, query: str, params: list | None = None):
        """Run SQL over the stored tables; a DataFrame."""
        return self._db.execute(query, params or []).df()

    def table(self, name: str, run_id: str | None = None):
        if name not in TABLES:
            raise ConfigError(f"no table {name!r}; tables are {', '.join(TABLES)}.")
        if run_id is None:
            return self.sql(f"select * from {name}")
        return self.sql(f"select * from {name} where run_id = ?", [run_id])

    def runs(self):
        """One row per stored run with its number of calls."""
        import pandas as pd

        tables = {r[0] for r in self._db.execute(
            "select table_name from information_schema.tables").fetchall()}
        if "sessions" not in tables:
            return pd.DataFrame(columns=["run_id", "config", "calls"])
        return self.sql("select run_id, string_agg(distinct config, ', ') as config, "
                        "count(*) as calls from sessions group by run_id order by run_id")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

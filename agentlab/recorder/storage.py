"""Saving runs: an atomic Parquet folder per run, and a DuckDB store across runs.

``save`` writes the raw event tables (one Parquet file per event type, lossless) plus the
session labels into a fresh temporary folder next to the target, then swaps it in with
renames: a crash mid-write leaves the previous run at ``path`` intact, and a reader never
sees half a run. Loading gives back a recorder whose tables equal the saved one's.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError
from .schema import SCHEMAS

MANIFEST = "run.json"
TABLES = ("events", "turns", "segments", "tools", "hooks", "errors", "sessions", "usage")


def save(rec: Any, path: Path) -> Path:
    rec.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name in SCHEMAS:
            table = rec.table(name)
            if table.num_rows:
                pq.write_table(table, tmp / f"{name}.parquet")
        labels = rec.labels_frame()
        pq.write_table(pa.Table.from_pandas(labels.astype({"seed": "Int64"}),
                                            preserve_index=False), tmp / "labels.parquet")
        (tmp / MANIFEST).write_text(json.dumps({
            "run_id": rec.run_id, "config": rec.config,
            "statistics": rec.statistics()}, indent=2))
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
        tmp.rename(path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load(cls: type, path: Path) -> Any:
    if not (path / MANIFEST).exists():
        old = path.with_name(f".{path.name}.old")
        hint = f" (a previous save was interrupted; the run is in {old})" if old.exists() \
            else ""
        raise ConfigError(f"{path}: not a saved agentlab run (no {MANIFEST}){hint}.")
    meta = json.loads((path / MANIFEST).read_text())
    rec = cls(run_id=meta["run_id"], config=meta.get("config"))
    for name in SCHEMAS:
        file = path / f"{name}.parquet"
        if file.exists():
            table = pq.read_table(file)
            rec._batches[name] = table.to_batches()
            rec._counts[name] = table.num_rows
            rec._flushed += table.num_rows
    labels = pq.read_table(path / "labels.parquet").to_pandas()
    for row in labels.to_dict("records"):
        sid = row.pop("session_id")
        rec.label(sid, **{k: (None if _missing(v) else v) for k, v in row.items()})
    return rec


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

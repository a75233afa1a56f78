"""Recorder: every canonical event as tidy tables; Parquet runs and a DuckDB store."""

from .recorder import Recorder
from .storage import Store

__all__ = ["Recorder", "Store"]

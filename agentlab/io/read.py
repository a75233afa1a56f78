"""Read other tools' recordings into a :class:`~agentlab.Recorder`: the same eight tables,
every row labelled with its ``source`` (``"<format>:<file name>"``).

Formats, detected from a file's first line unless ``format=`` says:

====================  =====================================================================
format                what it is
====================  =====================================================================
``agentlab-otlp``     agentlab's own OpenTelemetry export (:func:`agentlab.io.to_otel`)
``pipecat-otlp``      Pipecat's OpenTelemetry traces, OTLP/JSON lines (``io/pipecat.py``)
``livekit-otlp``      LiveKit Agents' OpenTelemetry traces, OTLP/JSON lines (``io/livekit.py``)
``livekit-metrics``   LiveKit's ``metrics_collected`` events as JSON lines
                      (``io/livekit_logs.py``)
``livekit-report``    a LiveKit session report, ``SessionReport.to_dict()`` as JSON
``pipecat-metrics``   Pipecat's metrics frames' data as JSON lines (``io/pipecat_metrics.py``)
====================  =====================================================================

A folder is read file by file (``*.json``, ``*.jsonl``, sorted), into one Recorder.
"""

from __future__ import annotations

import gc
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from orjson import loads

from ..errors import AgentlabWarning, ConfigError
from . import livekit_logs, otlp, pipecat_metrics

FORMATS = (*otlp.FORMATS, "livekit-metrics", "livekit-report", "pipecat-metrics")


class TraceReadError(ConfigError):
    """A file could not be read past some line; ``recorder`` holds the calls read
    before it."""

    def __init__(self, message: str, recorder: Any):
        super().__init__(message)
        self.recorder = recorder


def read(path: str | Path, format: str | None = None) -> Any:
    """A Recorder from ``path`` (a file, or a folder of them) in one of :data:`FORMATS`;
    ``format`` is detected from each file when not given."""
    from ..recorder import Recorder

    if format not in (None, *FORMATS):
        raise ConfigError(f"agentlab.io.read(format={format!r}): the formats read today are "
                          f"{', '.join(map(repr, FORMATS))}.")
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"agentlab.io.read: no file or folder {str(path)!r}.")
    rec, unknown = Recorder(), Counter()
    # a big import keeps millions of rows alive, none in a cycle: the cyclic collector
    # would walk them over and over (a third of the time of reading 10^6 spans)
    collecting = gc.isenabled()
    gc.disable()
    try:
        _read_path(path, format, rec, unknown)
    finally:
        if collecting:
            gc.enable()
    if unknown:
        names = ", ".join(f"{k} ({n})" for k, n in unknown.most_common(5))
        warnings.warn(f"agentlab.io.read({path.name}): ignored {sum(unknown.values())} "
                      f"attributes agentlab does not know: {names}", AgentlabWarning,
                      stacklevel=2)
    rec.flush()
    return rec


def _read_path(path: Path, format: str | None, rec: Any, unknown: Counter) -> None:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl"))
        for file in files:
            try:
                _read_file(file, format, rec, unknown)
            except _NotARecording as err:
                warnings.warn(f"agentlab.io.read({path}): skipped {file.name}: {err}",
                              AgentlabWarning, stacklevel=3)
    else:
        _read_file(path, format, rec, unknown)


class _NotARecording(ConfigError):
    pass


def _read_file(path: Path, format: str | None, rec: Any, unknown: Counter) -> None:
    kind = format or _kind(_first_object(path))
    if kind is None:
        raise _NotARecording(
            f"{path}: not a recording agentlab reads (formats: {', '.join(FORMATS)}); its "
            f"first line is neither OTLP/JSON, LiveKit metrics or a session report, nor "
            f"Pipecat metrics. Pass format= if it is one of them.")
    source = f"{kind}:{path.name}"
    if kind == "livekit-report":
        try:
            report = json.loads(path.read_text())
            livekit_logs.read_report(report, rec, unknown, source)
        except json.JSONDecodeError as err:
            raise TraceReadError(f"{path}:{err.lineno}: not a LiveKit session report "
                                 f"({err.msg} at column {err.colno}); the file may be "
                                 f"truncated.", rec) from None
        except (KeyError, TypeError, ValueError) as err:
            raise TraceReadError(f"{path}: not a LiveKit session report agentlab can read "
                                 f"({type(err).__name__}: {err}).", rec) from None
        return
    if kind in otlp.FORMATS or kind == "otlp":
        reader = otlp.Reader(rec, format, unknown, path.name)
    elif kind == "livekit-metrics":
        reader = livekit_logs.MetricsReader(rec, unknown, path.stem, source)
    else:
        reader = pipecat_metrics.MetricsReader(rec, unknown, path.stem, source)
    with path.open() as lines:  # line by line: a trace file may be larger than memory
        _read_lines(path, lines, reader, rec, kind)


def _read_lines(path: Path, lines: Any, reader: Any, rec: Any, kind: str) -> None:
    """Every line through ``reader``; a bad line stops the file with an error that names
    it, and what the lines before it held is kept (finished into ``rec``)."""
    what = "OTLP/JSON" if kind in (*otlp.FORMATS, "otlp") else f"{kind} JSON"
    feed = reader.line
    for lineno, line in enumerate(lines, 1):
        if line.isspace() or not line:
            continue
        try:
            feed(loads(line))  # orjson: most of a big trace file's time is parsing
        except json.JSONDecodeError as err:
            problem = f"not {what} ({err.msg} at column {err.colno}); the file may be truncated"
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            problem = f"not a {what} line agentlab can read ({type(err).__name__}: {err})"
        else:
            continue
        reader.finish()
        raise TraceReadError(f"{path}:{lineno}: {problem}. The {len(rec.session_ids())} "
                             f"calls read before this line are in this error's .recorder.",
                             rec) from None
    reader.finish()


def _first_object(path: Path) -> Any:
    with path.open() as lines:
        for line in lines:
            if line.strip():
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    break
    if path.stat().st_size > 64 * 2**20:
        return None  # not one JSON document agentlab reads whole
    try:  # a JSON document over several lines (an indented session report)
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _kind(first: Any) -> str | None:
    if otlp.is_request(first):
        return "otlp"  # whose: decided per request (resource and scope names)
    if livekit_logs.is_report(first):
        return "livekit-report"
    if livekit_logs.is_metrics(first):
        return "livekit-metrics"
    if pipecat_metrics.is_metrics(first):
        return "pipecat-metrics"
    return None

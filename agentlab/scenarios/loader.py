"""Finding and loading datasets: bundled scenario sets, converted real dialogs, profiles.

A dataset is a folder under ``agentlab/data/`` with a ``dataset.yaml`` (name, description,
source, license) and scenario files (YAML or JSON, one scenario or a list each).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from . import taskmaster
from .model import Scenario

# Shipped inside the package (package data), so a wheel install finds it too.
DATASET_DIR = Path(__file__).resolve().parents[1] / "data"
SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")


MAX_FILE_BYTES = 32 * 2**20  # a scenario file is text a person wrote or a converter made
MAX_VALUES = 500_000         # strings, numbers, lists and mappings in one file, aliases expanded


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml: 10-20x faster
    """Safe YAML with YAML 1.2 numbers: ``1.5e3`` is a number, as in JSON (YAML 1.1
    wants ``1.5e+3`` and reads ``1.5e3`` as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789."))


def _read(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: {size / 2**20:.0f} MB is too big for a scenario "
                              f"file (at most {MAX_FILE_BYTES // 2**20} MB); split it into "
                              f"a folder of files.")
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read it ({err.strerror}).") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset "
                          f"{err.start}); save the file as UTF-8.") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, _Loader)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as err:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()} ({err}).") from None
    _check_size(data, path)
    return data


def _check_size(data: Any, path: Path) -> None:
    """Refuse data that expands past MAX_VALUES values: YAML aliases can make a 600-byte
    file mean billions of values (an "alias bomb"), each copied into every event that
    carries it. The walk stops at the limit, so this check itself stays cheap."""
    budget, stack = MAX_VALUES, [data]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError(f"{path}: holds more than {MAX_VALUES:,} values once its YAML "
                              f"aliases (&anchor / *alias) are expanded; write the data "
                              f"out, or use fewer aliases.")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def load_file(path: str | Path) -> list[Scenario]:
    """Every scenario in one file: a scenario, a list of them, or Taskmaster dialogs."""
    path = Path(path)
    data = _read(path)
    if taskmaster.is_taskmaster(data):
        data = taskmaster.convert(data, path.name)
    items = data if isinstance(data, list) else [data]
    where = path.name
    scenarios = [Scenario.from_dict(item, where if len(items) == 1 else f"{where}[{i}]")
                 for i, item in enumerate(items)]
    _unique(scenarios, path)
    return scenarios


def _unique(scenarios: list[Scenario], where: Path) -> None:
    seen: dict[str, int] = {}
    for s in scenarios:
        seen[s.id] = seen.get(s.id, 0) + 1
    dupes = [k for k, n in seen.items() if n > 1]
    if dupes:
        raise ConfigError(f"{where}: scenario ids must be unique; repeated: "
                          f"{', '.join(dupes[:5])}.")


def load_folder(folder: Path) -> list[Scenario]:
    files = sorted(p for p in folder.iterdir()
                   if p.suffix in SCENARIO_SUFFIXES and p.stem != "dataset")
    if not files:
        raise ConfigError(f"{folder}: the folder has no scenario files "
                          f"({', '.join(SCENARIO_SUFFIXES)}); put scenarios in it or pass "
                          f"another folder.")
    scenarios = [s for f in files for s in load_file(f)]
    _unique(scenarios, folder)
    return scenarios


def _datasets() -> dict[str, Path]:
    return {p.name: p for p in sorted(DATASET_DIR.iterdir())
            if p.is_dir() and (p / "dataset.yaml").exists()}


def load(name_or_path: str | Path) -> Scenario | list[Scenario]:
    """A bundled dataset by name (a list of scenarios), a bundled scenario by id, or a
    file or folder of your own.

    >>> import agentlab as al
    >>> al.datasets.load("silent-caller").expected.outcome
    'hangup'
    """
    path = Path(name_or_path)
    if path.exists():
        found = load_folder(path) if path.is_dir() else load_file(path)
        return found[0] if path.is_file() and len(found) == 1 else found
    sets = _datasets()
    if _looks_like_a_path(str(name_or_path)):
        raise ConfigError(f"{name_or_path}: no such file or folder; pass an existing "
                          f"scenario file or folder, or a bundled dataset name "
                          f"({', '.join(sets)}).")
    if str(name_or_path) in sets:
        return load_folder(sets[str(name_or_path)])
    for folder in sets.values():
        for s in _scenario_index(folder):
            if s == str(name_or_path):
                return next(x for x in load_folder(folder) if x.id == s)
    raise ConfigError(f"no dataset or scenario {str(name_or_path)!r}: datasets are "
                      f"{', '.join(sets)}; see al.datasets.list(), or pass a file path.")


def _looks_like_a_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(".") or \
        text.endswith(SCENARIO_SUFFIXES)


def _scenario_index(folder: Path) -> list[str]:
    return [s.id for s in load_folder(folder)] if folder.name == "scenarios" else []


def list_datasets():
    """Every bundled dataset and latency profile with its size, source and license."""
    import pandas as pd

    from ..components.profiles import PROFILE_DIR

    rows = []
    for name, folder in _datasets().items():
        meta = _read(folder / "dataset.yaml") or {}
        files = [p for p in folder.iterdir() if p.is_file()]
        rows.append({"name": name, "kind": meta.get("kind", "scenarios"),
                     "items": len(load_folder(folder)),
                     "size_kb": round(sum(p.stat().st_size for p in files) / 1024, 1),
                     "description": meta.get("description", ""),
                     "source": meta.get("source", ""), "license": meta.get("license", "")})
    for path in sorted(PROFILE_DIR.glob("*.json")):
        meta = json.loads(path.read_text())
        rows.append({"name": path.stem, "kind": "latency profile",
                     "items": len(meta.get("stages", {})),
                     "size_kb": round(path.stat().st_size / 1024, 1),
                     "description": meta.get("description", ""),
                     "source": "; ".join(f"{k}: {v}" for k, v in meta.get("sources", {}).items()),
                     "license": meta.get("license", "Apache-2.0")})
    return pd.DataFrame(rows)

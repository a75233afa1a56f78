"""The plugin table of docs/plugins.md, made from the figures themselves (a test keeps the
doc equal to it): ``python -m agentlab.plugins.table``."""

from __future__ import annotations

import importlib
import pkgutil

from . import ProviderComponent, _figures


def _figure(spec: object) -> str:
    if not isinstance(spec, dict):
        return f"{spec} ms fixed"
    if spec.get("dist") == "mixture":
        return " / ".join(f"{c['weight']:.0%}: p50 {c['p50']}, p95 {c['p95']}"
                          for c in spec["components"])
    tail = spec.get("outlier")
    extra = f", {tail['p']:.0%} at {tail['low']}-{tail['high']}x" if tail else ""
    return f"p50 {spec['p50']}, p95 {spec['p95']}{extra}"


def plugin_classes() -> list[type]:
    import agentlab.plugins as pkg

    found = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name == "table":
            continue
        module = importlib.import_module(f"agentlab.plugins.{info.name}")
        found += [getattr(module, n) for n in module.__all__]
    return [c for c in found if issubclass(c, ProviderComponent)]


def markdown() -> str:
    rows = ["| class | kind | model | stage | figure (ms) | source |", "|---|---|---|---|---|---|"]
    for cls in plugin_classes():
        entry = _figures()[cls.kind][cls.provider]
        models = [m for m in entry if m not in ("default", "source")] or [""]
        for model in models:
            stages = entry[model] if model else entry["default"]
            for stage, spec in stages.items():
                rows.append(f"| `{cls.__module__.removeprefix('agentlab.')}.{cls.__name__}` "
                            f"| {cls.kind} | {model} | `{stage}` | {_figure(spec)} | "
                            f"{entry['source']} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")

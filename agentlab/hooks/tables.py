"""A bus's dispatch tables, built from its registries and kept by their stamps.

Every call of a run has the same registries (runner, pipeline, framework hooks; the
session's own are usually empty), so a call's bus usually builds nothing: the tables are
kept by the registries' stamps (``HookRegistry.stamp`` names one registry's handlers at
one moment; 0 while it has never had any).
"""

from __future__ import annotations

from .registry import HandlerEntry, HookRegistry
from .spec import HOOK_SPECS, Dispatch, HookSpec

_TABLES: dict[tuple[int, ...], tuple] = {}  # registries' stamps -> their tables
_KEEP = 256  # sets of registries kept (a run has one; a sweep a few per config)


def dispatch_tables(registries: list[HookRegistry]) -> tuple:
    """``(flat, views, blocking)``: the enabled handlers per hook (registry order), the
    handlers viewing each event (spec table order: firing order), and the events an
    awaited handler views (emitting one may take session time)."""
    key = tuple(reg.stamp for reg in registries)
    tables = _TABLES.get(key)
    if tables is None:
        tables = _build(registries)
        if len(_TABLES) >= _KEEP:
            _TABLES.clear()
        _TABLES[key] = tables
    return tables


def _build(registries: list[HookRegistry]) -> tuple:
    lists: dict[str, list[list[HandlerEntry]]] = {}
    for reg in registries:
        for spec, entries in reg:
            if entries:
                lists.setdefault(spec.key, []).append(entries)
    flat = {key: tuple(e for lst in group for e in lst if e.enabled)
            for key, group in lists.items()}
    views: dict[str, list[tuple[HookSpec, tuple[HandlerEntry, ...]]]] = {}
    for spec in HOOK_SPECS:  # table order is firing order
        entries = flat.get(spec.key)
        if entries and spec.event:
            views.setdefault(spec.event, []).append((spec, entries))
    blocking = frozenset(name for name, specs in views.items()
                         if any(holds(spec) for spec, _ in specs))
    return flat, views, blocking


def holds(spec: HookSpec) -> bool:
    """Whether the emitting stage awaits this hook's handlers (they hold the turn)."""
    return spec.dispatch is not Dispatch.FIRE_AND_FORGET and not spec.beside

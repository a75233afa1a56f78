"""Small, deterministic HTML views for the widgets (no memory addresses, no clocks)."""

from __future__ import annotations

import html
from typing import Any

# the same order and colours as al.plot (tab20)
_COLOURS = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728",
            "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2"]


def latency_bar(segments: Any, total_ms: float, width_px: int = 600) -> str:
    """One turn's segments as a stacked horizontal bar with a legend."""
    parts, legend = [], []
    for i, (name, ms) in enumerate(segments):
        if ms <= 0.5:
            continue
        colour = _COLOURS[i % len(_COLOURS)]
        w = max(1, round(width_px * ms / total_ms)) if total_ms > 0 else 0
        parts.append(f'<div title="{html.escape(name)} {ms:.0f} ms" style="width:{w}px;'
                     f'background:{colour};height:18px"></div>')
        legend.append(f'<span style="color:{colour}">&#9632;</span> {html.escape(name)} '
                      f"{ms:.0f}")
    return (f"<div><b>last turn: {total_ms:.0f} ms</b> (caller stops -> agent audio)</div>"
            f'<div style="display:flex">{"".join(parts)}</div>'
            f'<div style="font-size:12px">{" &nbsp; ".join(legend)}</div>')


def table_html(rows: list[dict], columns: list[str], limit: int = 200) -> str:
    """Rows as an HTML table (the last ``limit``)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>"
                                    for c in columns) + "</tr>" for r in rows[-limit:])
    return (f'<table style="border-collapse:collapse;font-size:12px"><tr>{head}</tr>'
            f"{body}</table>")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)

"""Reports: summary and comparison tables (CSV), plots (PNG) and one self-contained HTML
page that shows them, from a recorded run.

>>> import tempfile, agentlab as al
>>> rec = al.Experiment(configs={"a": lambda r: None}, scenarios="agent-ends-call").run(
...     progress=False)
>>> out = al.report.write(rec, tempfile.mkdtemp())
>>> sorted(p.name for p in out.iterdir())[:3]
['comparison.csv', 'ecdf.png', 'hook_cost.csv']
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from . import analysis


def write(rec: Any, out: str | Path, *, baseline: str | None = None,
          threshold_ms: float = 50.0, title: str = "agentlab report") -> Path:
    """Write the report for ``rec`` (a Recorder) into folder ``out``; returns it.

    ``baseline`` is the config the others are compared with (default: the first).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from . import plot

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    turns, hooks = rec.turns, rec.hooks
    configs = [str(c) for c in pd.unique(turns["config"].astype(str))] if len(turns) else []
    baseline = baseline or (configs[0] if configs else None)
    summary = analysis.summary(turns, by="config") if len(turns) else pd.DataFrame()
    comparisons = [analysis.compare(turns, baseline, c).assign(candidate=c)
                   for c in configs if c != baseline]
    comparison = pd.concat(comparisons, ignore_index=True) if comparisons else pd.DataFrame()
    regressions = pd.concat([analysis.regressions(c, threshold_ms).assign(
        candidate=c.attrs["candidate"]) for c in comparisons], ignore_index=True) \
        if comparisons else pd.DataFrame(columns=["metric", "stat", "diff_ms"])
    cost = analysis.hook_cost(hooks, turns) if len(hooks) else pd.DataFrame()
    tables = {"summary": summary, "comparison": comparison, "regressions": regressions,
              "hook_cost": cost}
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False)

    images = {}
    if len(turns):
        for name, draw in (("segments", lambda ax: plot.segments(turns, by="config", ax=ax)),
                           ("ecdf", lambda ax: plot.ecdf(turns, "total_e2e_ms", ax=ax))):
            fig, ax = plt.subplots(figsize=(9, 3.5), layout="constrained")
            draw(ax)
            fig.savefig(out / f"{name}.png", dpi=110)
            plt.close(fig)
            images[name] = out / f"{name}.png"
    if len(cost):
        fig, ax = plt.subplots(figsize=(9, 0.5 + 0.4 * len(cost)), layout="constrained")
        plot.hook_cost(cost, "clock_ms_per_turn" if "clock_ms_per_turn" in cost else
                       "wall_ms_mean", ax=ax)
        fig.savefig(out / "hook_cost.png", dpi=110)
        plt.close(fig)
        images["hook_cost"] = out / "hook_cost.png"
    (out / "index.html").write_text(_html(title, rec, configs, baseline, tables, images),
                                    encoding="utf-8")
    return out


def _html(title: str, rec: Any, configs: list[str], baseline: str | None,
          tables: dict[str, pd.DataFrame], images: dict[str, Path]) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Run <code>{html.escape(str(rec.run_id))}</code>: "
             f"{len(rec.sessions)} calls, {len(rec.turns)} turns, configs "
             f"{html.escape(', '.join(configs))}; baseline "
             f"<b>{html.escape(str(baseline))}</b>.</p>"]
    for name, df in tables.items():
        parts.append(f"<h2>{name.replace('_', ' ')}</h2>")
        parts.append(df.to_html(index=False, float_format=lambda v: f"{v:.1f}",
                                border=0, classes="t") if len(df) else "<p>(none)</p>")
    for name, path in images.items():
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<h2>{name.replace('_', ' ')}</h2>"
                     f'<img alt="{name}" src="data:image/png;base64,{data}">')
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
             "table.t{border-collapse:collapse;font-size:13px}"
             "table.t td,table.t th{padding:2px 8px;border-bottom:1px solid #ddd;"
             "text-align:right}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")

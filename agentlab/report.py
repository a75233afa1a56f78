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
    comparison = pd.concat([_tidy(c, baseline) for c in comparisons], ignore_index=True) \
        if comparisons else pd.DataFrame()
    regressions = pd.concat([analysis.regressions(c, threshold_ms).assign(
        candidate=c.attrs["candidate"]) for c in comparisons], ignore_index=True) \
        if comparisons else pd.DataFrame(columns=["metric", "stat", "diff_ms"])
    cost = analysis.hook_cost(hooks, turns) if len(hooks) else pd.DataFrame()
    effect = analysis.hook_effect(turns, hooks, baseline) if len(cost) and \
        len(configs) > 1 else pd.DataFrame()
    tables = {"summary": summary, "comparison": comparison, "regressions": regressions,
              "hook_cost": cost, "hook_effect": effect}
    tables = {name: _clean(df) for name, df in tables.items()}
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
        panels = 2 if len(effect) else 1
        heights = ([0.6 + 0.55 * effect["config"].nunique()] if panels == 2 else []) + \
            [0.6 + 0.3 * len(cost)]
        fig, axes = plt.subplots(panels, 1, figsize=(9, 0.8 + sum(heights)),
                                 height_ratios=heights, layout="constrained", squeeze=False)
        if panels == 2:
            plot.hook_effect(effect, ax=axes[0][0])
            axes[0][0].set_title("Where each configuration's extra time goes (vs "
                                 f"{baseline})", fontsize=9)
        per_turn = "clock_ms_per_turn" in cost
        plot.hook_cost(cost, "clock_ms_per_turn" if per_turn else "wall_ms_mean",
                       ax=axes[-1][0])
        axes[-1][0].set_title("Each handler's own session-clock time per turn", fontsize=9)
        fig.savefig(out / "hook_cost.png", dpi=110)
        plt.close(fig)
        images["hook_cost"] = out / "hook_cost.png"
    (out / "index.html").write_text(_html(title, rec, configs, baseline, tables, images),
                                    encoding="utf-8")
    return out


def _tidy(comparison: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One comparison with config-neutral columns (``p50_baseline``, ``p50_candidate``),
    so comparisons of several candidates stack without empty cells."""
    candidate = str(comparison["candidate"].iloc[0]) if len(comparison) else ""
    names = {}
    for stat in ("p50", "p95", "mean"):
        names[f"{stat}_{baseline}"] = f"{stat}_baseline"
        names[f"{stat}_{candidate}"] = f"{stat}_candidate"
    out = comparison.rename(columns=names).assign(baseline=baseline)
    first = ["candidate", "baseline", "metric", "pairs"]
    return out[first + [c for c in out.columns if c not in first]]


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Float noise (1e-13 for 0) rounded away: ms to three decimals."""
    floats = df.select_dtypes("float").columns
    out = df.copy()
    out[floats] = out[floats].round(3) + 0.0  # + 0.0 turns -0.0 into 0.0
    return out


def _headlines(comparison: pd.DataFrame, regressions: pd.DataFrame, n_calls: int,
               n_turns: int, configs: list[str], baseline: str | None) -> list[str]:
    """The report's first paragraphs, in words: what was compared, regressions first,
    then each candidate's change in total latency with its confidence interval."""
    lines = [f"{len(configs)} configurations ({', '.join(configs)}) on {n_calls} calls, "
             f"{n_turns} caller turns; each is compared with <b>{html.escape(str(baseline))}"
             f"</b> on the same calls (paired), with 95% bootstrap confidence intervals."]
    if len(regressions):
        worst = regressions.sort_values("diff_ms", ascending=False).drop_duplicates(
            ["candidate", "metric"])  # the worst statistic of each metric (table below)
        items = [f"{html.escape(str(r.candidate))}: {r.metric.removesuffix('_ms')} "
                 f"{r.stat} +{r.diff_ms:.0f} ms (95% CI +{r.ci_lo_ms:.0f} to "
                 f"+{r.ci_hi_ms:.0f})" for r in worst.itertuples()]
        lines.append("<b>Regressions</b> (the whole interval above the threshold): "
                     + "; ".join(items) + ".")
    elif len(comparison):
        lines.append("No regressions: no difference's interval lies wholly above the "
                     "threshold.")
    totals = comparison[comparison["metric"] == "total_e2e_ms"] if len(comparison) else \
        comparison  # one configuration: nothing was compared
    for r in totals.itertuples():
        verb = "adds" if r.mean_diff > 0.5 else "saves" if r.mean_diff < -0.5 else "changes"
        lines.append(
            f"<b>{html.escape(str(r.candidate))}</b> {verb} {abs(r.mean_diff):.0f} ms per "
            f"turn on average (95% CI {r.mean_diff_lo:+.0f} to {r.mean_diff_hi:+.0f} ms); "
            f"median {r.p50_baseline:.0f} -> {r.p50_candidate:.0f} ms, p95 "
            f"{r.p95_baseline:.0f} -> {r.p95_candidate:.0f} ms.")
    return lines


_CAPTIONS = {
    "segments": "Mean time per latency segment and configuration: where each turn's "
                "end-of-speech-to-first-audio time goes.",
    "ecdf": "Share of turns at or below each total latency: a curve to the right is "
            "slower; the gap at the top is the tail.",
    "hook_cost": "Top: what each configuration adds to a turn, segment by segment, "
                 "with the handlers that act in each segment. Bottom: each handler's "
                 "own session-clock time per turn. A chain llm hook costs almost nothing "
                 "itself but makes the reply wait for the full response: that time is "
                 "in llm_rest, not in the hook.",
}


def _html(title: str, rec: Any, configs: list[str], baseline: str | None,
          tables: dict[str, pd.DataFrame], images: dict[str, Path]) -> str:
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Run <code>{html.escape(str(rec.run_id))}</code>.</p>"]
    parts += [f"<p>{line}</p>" for line in _headlines(
        tables["comparison"], tables["regressions"], len(rec.sessions), len(rec.turns),
        configs, baseline)]
    for name, path in images.items():
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<figure><img alt=\"{name}\" src=\"data:image/png;base64,{data}\">"
                     f"<figcaption>{_CAPTIONS.get(name, '')}</figcaption></figure>")
    for name in ("regressions", "comparison", "summary", "hook_effect", "hook_cost"):
        df = tables[name]
        parts.append(f"<h2>{name.replace('_', ' ')}</h2>")
        parts.append(df.to_html(index=False, float_format=lambda v: f"{v:.1f}",
                                border=0, classes="t", na_rep="") if len(df)
                     else "<p>(none)</p>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
             "table.t{border-collapse:collapse;font-size:13px}"
             "table.t td,table.t th{padding:2px 8px;border-bottom:1px solid #ddd;"
             "text-align:right}img{max-width:100%}figcaption{color:#555;font-size:13px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")

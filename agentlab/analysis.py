"""``al.analysis``: percentile summaries, paired comparisons with bootstrap confidence
intervals, regression checks and hook cost, over the recorder's tables.

Example
-------
>>> import agentlab as al
>>> async def handle_call(ctx): await ctx.session.run()
>>> runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
>>> rec = al.Recorder(config="base")
>>> _ = al.simulate_sync(runner, calls=5, seed=1, recorder=rec)
>>> al.analysis.summary(rec.turns, "total_e2e_ms", by="config").columns.tolist()
['config', 'metric', 'n', 'mean', 'p50', 'p90', 'p95', 'p99']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError

PERCENTILES = (50, 90, 95, 99)
PAIR_KEYS = ("scenario_id", "seed", "call_index", "turn_id")


def _metrics(turns: pd.DataFrame, metrics: str | Sequence[str] | None) -> list[str]:
    if metrics is None:
        return ["total_e2e_ms", *segment_columns(turns)]
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [m for m in metrics if m not in turns.columns]
    if missing:
        raise ConfigError(f"no column {missing[0]!r} in the table; numeric columns are "
                          f"{', '.join(turns.select_dtypes('number').columns)}.")
    return metrics


def segment_columns(turns: pd.DataFrame) -> list[str]:
    """The ``seg_*_ms`` columns of a turns table, in pipeline order."""
    return [c for c in turns.columns if c.startswith("seg_") and c.endswith("_ms")]


def summary(df: pd.DataFrame, metrics: str | Sequence[str] | None = None,
            by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """n, mean, p50, p90, p95, p99 of each metric (default: total and every segment),
    per group of ``by``; one row per group and metric (long, easy to pivot)."""
    cols = _metrics(df, metrics)
    keys = [by] if isinstance(by, str) else list(by or [])
    groups = df.groupby(keys, observed=True, sort=True) if keys else [((), df)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        for m in cols:
            x = part[m].dropna().to_numpy(dtype=float)
            q = np.percentile(x, PERCENTILES) if x.size else [np.nan] * len(PERCENTILES)
            rows.append({**dict(zip(keys, key, strict=True)), "metric": m, "n": x.size,
                         "mean": x.mean() if x.size else np.nan,
                         **{f"p{p}": v for p, v in zip(PERCENTILES, q, strict=True)}})
    return pd.DataFrame(rows)


def compare(turns: pd.DataFrame, baseline: str, candidate: str,
            metrics: str | Sequence[str] | None = None, *, config_col: str = "config",
            n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Paired comparison of two configs on the same scenarios and seeds.

    Turns are matched on scenario, seed, call index and turn id (both configs ran the same
    calls); unmatched turns are left out and counted. For each metric the table gives the
    baseline and candidate p50 / p95 / mean, their difference (candidate - baseline) and a
    bootstrap confidence interval for each difference, resampling matched pairs.
    """
    cols = _metrics(turns, metrics)
    keys = [k for k in PAIR_KEYS if k in turns.columns and turns[k].notna().any()]
    if not keys:
        raise ConfigError("compare() needs turns with scenario_id/seed/call_index/turn_id "
                          "columns to pair calls (record with al.Recorder).")
    labels = turns[config_col].dropna() if config_col in turns.columns else turns.iloc[:0, 0]
    configs = set(labels.astype(str))
    if not configs:
        raise ConfigError(f"compare(): the turns have no {config_col!r} labels to tell "
                          f"{baseline!r} from {candidate!r}; run the configs with "
                          f"al.Experiment (it labels every call with its config), or pass "
                          f"config_col= naming the column that tells them apart.")
    for name in (baseline, candidate):
        if name not in configs:
            raise ConfigError(f"no config {name!r} in the turns; configs: "
                              f"{', '.join(sorted(configs))}.")
    a = turns[turns[config_col].astype(str) == baseline].set_index(keys)[cols]
    b = turns[turns[config_col].astype(str) == candidate].set_index(keys)[cols]
    paired = a.merge(b, left_index=True, right_index=True, suffixes=("@a", "@b"))
    n = len(paired)
    if n == 0:
        raise ConfigError(f"no turns of {baseline!r} and {candidate!r} pair up: run both "
                          f"configs on the same scenarios and seeds.")
    lo, hi = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    rows = []
    for i, m in enumerate(cols):
        x, y = paired[f"{m}@a"].to_numpy(float), paired[f"{m}@b"].to_numpy(float)
        ok = ~(np.isnan(x) | np.isnan(y))  # e.g. cancelled turns have no latency
        x, y = x[ok], y[ok]
        boot = np.random.default_rng([seed, i]).integers(0, max(x.size, 1),
                                                         size=(n_boot, x.size))
        row = {"metric": m, "pairs": int(x.size)}
        for stat, fn in (("p50", _p50), ("p95", _p95), ("mean", _mean)):
            if not x.size:
                row.update(dict.fromkeys(
                    [f"{stat}_{baseline}", f"{stat}_{candidate}", f"{stat}_diff",
                     f"{stat}_diff_lo", f"{stat}_diff_hi"], np.nan))
                continue
            base, cand = fn(x[None, :])[0], fn(y[None, :])[0]
            diffs = fn(y[boot]) - fn(x[boot])
            row.update({f"{stat}_{baseline}": base, f"{stat}_{candidate}": cand,
                        f"{stat}_diff": cand - base,
                        f"{stat}_diff_lo": np.percentile(diffs, lo),
                        f"{stat}_diff_hi": np.percentile(diffs, hi)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(baseline=baseline, candidate=candidate, ci=ci,
                     unmatched=len(a) + len(b) - 2 * n)
    return out


def _p50(v: np.ndarray) -> np.ndarray:
    return np.percentile(v, 50, axis=1)


def _p95(v: np.ndarray) -> np.ndarray:
    return np.percentile(v, 95, axis=1)


def _mean(v: np.ndarray) -> np.ndarray:
    return v.mean(axis=1)


def regressions(comparison: pd.DataFrame, threshold_ms: float = 20.0,
                stats: Sequence[str] = ("p50", "p95", "mean")) -> pd.DataFrame:
    """The metrics that got worse beyond ``threshold_ms``: the whole confidence interval
    of the difference lies above the threshold (so noise does not count). One row per
    metric and statistic; empty when nothing regressed."""
    rows = []
    for _, r in comparison.iterrows():
        for stat in stats:
            if r[f"{stat}_diff_lo"] > threshold_ms:
                rows.append({"metric": r["metric"], "stat": stat, "diff_ms": r[f"{stat}_diff"],
                             "ci_lo_ms": r[f"{stat}_diff_lo"], "ci_hi_ms": r[f"{stat}_diff_hi"]})
    return pd.DataFrame(rows, columns=["metric", "stat", "diff_ms", "ci_lo_ms", "ci_hi_ms"])


def hook_cost(hooks: pd.DataFrame, turns: pd.DataFrame | None = None,
              by: str | Sequence[str] = ("config", "hook", "handler")) -> pd.DataFrame:
    """Time each hook handler costs: calls, total and mean wall ms, virtual (session
    clock) ms, failures, and per turn (total / turns of that config) when ``turns``
    is given."""
    keys = [by] if isinstance(by, str) else list(by)
    g = hooks.groupby(keys, observed=True, sort=True, dropna=False)  # unlabelled runs too
    out = g.agg(calls=("wall_ms", "size"), wall_ms_total=("wall_ms", "sum"),
                wall_ms_mean=("wall_ms", "mean"), clock_ms_total=("duration_ms", "sum"),
                failures=("ok", lambda s: int((~s.astype(bool)).sum()))).reset_index()
    if turns is not None and "config" in keys:
        n = turns.groupby("config", observed=True).size()
        per = out["config"].map(n).astype(float)
        out["clock_ms_per_turn"] = out["clock_ms_total"] / per
        out["wall_ms_per_turn"] = out["wall_ms_total"] / per
    return out

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


def short_handler(name: str) -> str:
    """A handler's qualified name cut to what tells handlers apart in a plot:
    ``'agentlab.demo.crm_lookup.<locals>.lookup'`` -> ``'crm_lookup.lookup'``."""
    parts = [p for p in str(name).split(".") if p and p not in ("<locals>", "__main__")]
    return ".".join(parts[-2:]) if parts else str(name)


def hook_effect(turns: pd.DataFrame, hooks: pd.DataFrame,
                baseline: str | None = None) -> pd.DataFrame:
    """Where each configuration's extra time goes: per candidate config and latency
    segment, the mean per-turn difference from ``baseline`` (default: the first config),
    and the handlers whose time lands in that segment (the hook spec says which segments
    a blocking hook can delay). A chain ``llm`` hook costs ~0 ms itself; its effect is
    the wait for the full response, in ``llm_rest``: this table shows both.

    Columns: ``config``, ``segment``, ``baseline_ms``, ``config_ms``, ``delta_ms``,
    ``handlers``; a row per segment that moved by 0.5 ms or more, or that a handler of
    the config acts in."""
    from .hooks.spec import SPECS_BY_SCOPE, Scope

    cols = segment_columns(turns)
    if not cols or "config" not in turns.columns:
        raise ConfigError("hook_effect() needs a turns table with config and seg_*_ms "
                          "columns (rec.turns of an experiment).")
    done = turns[~turns["cancelled"].astype(bool)] if "cancelled" in turns else turns
    means = done.groupby(done["config"].astype(str), sort=False)[cols].mean()
    baseline = str(baseline) if baseline is not None else str(means.index[0])
    if baseline not in means.index:
        raise ConfigError(f"hook_effect(): no config {baseline!r} in the turns table; "
                          f"configs are {', '.join(means.index)}.")
    acting: dict[tuple[str, str], list[str]] = {}
    if len(hooks):
        keys = hooks[["config", "scope", "hook", "handler"]].astype(str).drop_duplicates()
        for config, scope, hook, handler in keys.itertuples(index=False):
            spec = SPECS_BY_SCOPE[Scope(scope)].get(hook)
            for segment in spec.segments if spec else ():
                acting.setdefault((config, segment), []).append(
                    f"{short_handler(handler)} ({hook})")
    rows = []
    for config in means.index.drop(baseline):
        for col in cols:
            segment = col.removeprefix("seg_").removesuffix("_ms")
            base, mine = means.at[baseline, col], means.at[config, col]
            names = acting.get((config, segment), [])
            if abs(mine - base) >= 0.5 or names:
                rows.append({"config": config, "segment": segment, "baseline_ms": base,
                             "config_ms": mine, "delta_ms": mine - base,
                             "handlers": ", ".join(sorted(set(names)))})
    return pd.DataFrame(rows, columns=["config", "segment", "baseline_ms", "config_ms",
                                       "delta_ms", "handlers"])


def intervals(df: pd.DataFrame, metric: str = "total_e2e_ms", by: str = "config",
              n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """p50, p95 and mean of ``metric`` per group of ``by``, each with a bootstrap
    confidence interval (rows resampled within the group; for configs whose turns do not
    pair up, e.g. when one endpointing cuts callers off into more turns)."""
    _metrics(df, metric)
    lo, hi = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    rows = []
    for i, (key, part) in enumerate(df.groupby(by, observed=True, sort=True)):
        x = part[metric].dropna().to_numpy(float)
        row = {by: key, "n": x.size}
        boot = x[np.random.default_rng([seed, i]).integers(0, max(x.size, 1),
                                                           size=(n_boot, x.size))]
        for stat, fn in (("p50", _p50), ("p95", _p95), ("mean", _mean)):
            value = fn(x[None, :])[0] if x.size else np.nan
            spread = fn(boot) if x.size else np.full(2, np.nan)
            row.update({stat: value, f"{stat}_lo": np.percentile(spread, lo),
                        f"{stat}_hi": np.percentile(spread, hi)})
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity(turns: pd.DataFrame, by: str | Sequence[str] | None = None,
                metric: str = "total_e2e_ms", q: float = 95.0) -> pd.DataFrame:
    """What moves the tail: one row per stage (or hook) segment and, with ``by``, per
    factor, with its ``share`` of the tail (docs/turn-taking.md).

    Segments (``kind="segment"``): of the tail turns (``metric`` >= its q-th percentile),
    how much each ``seg_*_ms`` adds over the average turn, as a share of the tail's
    excess: ``(mean_tail(seg) - mean(seg)) / (mean_tail(total) - mean(total))``. The
    segments add up to the total, so the shares add up to 1 exactly (a hook's time is its
    segment: ``user_hooks``, ``llm_hooks``).

    Factors (``kind="factor"``, ``by`` = e.g. ``["config", "scenario_id"]``): the q-th
    percentile per cell of the factors, and the share of its variance across cells each
    factor's main effect explains (the variance of its marginal means over the variance
    of the cells); what the main effects leave is ``interaction``.
    """
    _metrics(turns, metric)
    rows = []
    x = turns.dropna(subset=[metric])
    cut = np.percentile(x[metric], q) if len(x) else np.nan
    tail = x[x[metric] >= cut]
    excess = tail[metric].mean() - x[metric].mean()
    for col in segment_columns(x):
        add = tail[col].fillna(0).mean() - x[col].fillna(0).mean()
        rows.append({"kind": "segment", "name": col[4:-3], "excess_ms": add,
                     "share": add / excess if excess else np.nan})
    keys = [by] if isinstance(by, str) else list(by or [])
    if keys:
        cells = x.groupby(keys, observed=True)[metric].quantile(q / 100).rename("tail")
        cells = cells.reset_index()
        total = cells["tail"].var(ddof=0)
        explained = 0.0
        for key in keys:
            means = cells.groupby(key, observed=True)["tail"].transform("mean")
            part = means.var(ddof=0)
            explained += part
            rows.append({"kind": "factor", "name": key, "excess_ms": np.sqrt(part),
                         "share": part / total if total else np.nan})
        rest = total - explained
        rows.append({"kind": "factor", "name": "interaction", "excess_ms":
                     np.sqrt(max(rest, 0.0)), "share": rest / total if total else np.nan})
    out = pd.DataFrame(rows, columns=["kind", "name", "excess_ms", "share"])
    out.attrs.update(metric=metric, q=q, threshold_ms=cut)
    return out


def task_success(rec, scenarios) -> pd.DataFrame:
    """Per call: whether it did what its scenario's ``expected:`` asks (the outcome,
    every expected tool called, every expected event fired); ``success`` is all three.
    ``scenarios``: the scenarios run (a dataset name, scenarios, or a list of them)."""
    from .scenarios.loader import load

    found = load(scenarios) if isinstance(scenarios, str) else scenarios
    found = found if isinstance(found, list) else [found]
    expected = {s.id: s.expected for s in found}
    sessions = rec.sessions
    tools = rec.tools.groupby(rec.tools["session_id"].astype(str))["tool_name"].agg(set)
    # the calls each expected event fired in (its own table: no events table built)
    wanted = {e for want in expected.values() for e in want.events}
    fired_in = {e: set(map(str, rec.table(e)["session_id"].to_pylist())) for e in wanted}
    rows = []
    for sid, scenario, reason in zip(sessions["session_id"].astype(str),
                                     sessions["scenario_id"].astype(object),
                                     sessions["reason"].astype(object), strict=True):
        want = expected.get(scenario)
        if want is None:
            rows.append({"outcome_ok": np.nan, "tools_ok": np.nan, "events_ok": np.nan})
            continue
        outcome = want.outcome is None or want.outcome == reason
        tools_ok = not want.tools or set(want.tools) <= tools.get(sid, set())
        events_ok = all(sid in fired_in[e] for e in want.events)
        rows.append({"outcome_ok": outcome, "tools_ok": tools_ok, "events_ok": events_ok})
    out = pd.concat([sessions[["run_id", "session_id", "scenario_id", "config", "seed",
                               "call_index"]].reset_index(drop=True),
                     pd.DataFrame(rows, index=range(len(rows)))], axis=1)
    out["success"] = out[["outcome_ok", "tools_ok", "events_ok"]].all(axis=1) & \
        out["outcome_ok"].notna()
    return out

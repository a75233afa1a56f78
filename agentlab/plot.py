"""``al.plot``: latency plots over the recorder's tables, seaborn-shaped.

Every function takes a DataFrame first and keyword options, draws into ``ax=`` (or a new
figure's axes), returns the Axes and never calls ``plt.show()``.

Example
-------
>>> import agentlab as al
>>> async def handle_call(ctx): await ctx.session.run()
>>> runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
>>> rec = al.Recorder(config="base")
>>> _ = al.simulate_sync(runner, calls=3, seed=1, recorder=rec)
>>> ax = al.plot.segments(rec.turns, by="config")
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .analysis import segment_columns, short_handler
from .errors import ConfigError

# one colour per segment, stable across plots (tab20 order)
_SEGMENT_COLOURS: dict[str, Any] = {}


def _axes(ax: Any, figsize: tuple[float, float] = (8, 4)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _colour(segment: str) -> Any:
    import matplotlib

    if segment not in _SEGMENT_COLOURS:
        _SEGMENT_COLOURS[segment] = matplotlib.colormaps["tab20"](len(_SEGMENT_COLOURS) % 20)
    return _SEGMENT_COLOURS[segment]


def _label(col: str) -> str:
    return col.removeprefix("seg_").removesuffix("_ms")


def segments(turns: pd.DataFrame, by: str = "config", stat: str = "mean", *,
             ax: Any = None) -> Any:
    """Stacked bars of the latency segments per group (``by`` = a column such as
    ``config`` or ``turn_id``); ``stat`` is ``mean`` (segments then add up to the mean
    total) or ``median`` (per segment)."""
    cols = segment_columns(turns)
    if not cols:
        raise ConfigError("segments() needs a turns table with seg_*_ms columns "
                          "(al.Recorder().turns).")
    if by not in turns.columns:
        raise ConfigError(f"no column {by!r} to group by; try config or turn_id.")
    data = turns.groupby(by, observed=True)[cols].agg(stat)
    data = data.loc[:, (data.abs() > 1e-9).any()]
    ax = _axes(ax)
    left = np.zeros(len(data))
    labels = [str(i) for i in data.index]
    for col in data.columns:
        ax.barh(labels, data[col].to_numpy(), left=left, label=_label(col),
                color=_colour(_label(col)))
        left += data[col].to_numpy()
    ax.set_xlabel(f"{stat} latency (ms), user stops speaking -> agent audio starts")
    ax.set_ylabel(by)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    return ax


def ecdf(df: pd.DataFrame, metric: str = "total_e2e_ms", by: str | None = "config", *,
         ax: Any = None) -> Any:
    """Empirical CDF of ``metric`` per group, with the p50 and p95 marked."""
    if metric not in df.columns:
        raise ConfigError(f"no column {metric!r}; numeric columns are "
                          f"{', '.join(df.select_dtypes('number').columns)}.")
    ax = _axes(ax)
    groups = df.groupby(by, observed=True) if by else [("all", df)]
    for name, part in groups:
        x = np.sort(part[metric].dropna().to_numpy(float))
        if not x.size:
            continue
        y = np.arange(1, x.size + 1) / x.size
        line = ax.step(x, y, where="post", label=f"{name} (p50 {np.percentile(x, 50):.0f}, "
                                                 f"p95 {np.percentile(x, 95):.0f})")[0]
        ax.axvline(np.percentile(x, 95), color=line.get_color(), ls=":", lw=0.8)
    ax.set_xlabel(metric)
    ax.set_ylabel("share of turns")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small", frameon=False)
    return ax


def waterfall(turns: pd.DataFrame, session_id: str | None = None, turn_id: int | None = None,
              *, ax: Any = None) -> Any:
    """One turn's segments as a waterfall from the end of user speech to agent audio."""
    row = turns
    if session_id is not None:
        row = row[row["session_id"].astype(str) == session_id]
    if turn_id is not None:
        row = row[row["turn_id"] == turn_id]
    row = row.dropna(subset=["total_e2e_ms"])
    if row.empty:
        raise ConfigError(f"no completed turn {turn_id} in session {session_id}.")
    r = row.iloc[0]
    ax = _axes(ax)
    start = 0.0
    cols = [c for c in segment_columns(turns) if abs(r[c]) > 1e-9]
    for i, col in enumerate(cols):
        ax.barh(i, r[col], left=start, color=_colour(_label(col)))
        ax.text(start + r[col], i, f" {r[col]:.0f}", va="center", fontsize="small")
        start += r[col]
    ax.set_yticks(range(len(cols)), [_label(c) for c in cols])
    ax.invert_yaxis()
    ax.set_xlabel("ms after the caller stopped speaking")
    ax.set_title(f"{r['session_id']} turn {r['turn_id']}: {r['total_e2e_ms']:.0f} ms")
    return ax


_LANES = {"user": ("user_speech_start", "user_speech_end"),
          "agent": ("agent_speech_start", "agent_speech_end")}


def timeline(events: Any, session_id: str | None = None, *, audio: Any = None,
             sample_rate: int = 16_000, ax: Any = None) -> Any:
    """A call's timeline: user and agent speech, tool calls (red when they failed), hook
    calls, interruptions, with a legend; with ``audio`` (a 1-D array or a WAV path, on
    the session clock: ``CallAudio.channel``) the waveform is drawn underneath.
    ``events`` is a recorder's events table, or the Recorder itself."""
    ev = events if isinstance(events, pd.DataFrame) else getattr(events, "events", None)
    if not isinstance(ev, pd.DataFrame):
        raise ConfigError(f"timeline() takes rec.events or a Recorder, got "
                          f"{type(events).__name__}.")
    if session_id is None:
        session_id = str(ev["session_id"].iloc[0])
    ev = ev[ev["session_id"].astype(str) == session_id]
    if ev.empty:
        raise ConfigError(f"no events for session {session_id!r}.")
    ax = _axes(ax, (10, 3))
    lanes = ["user", "agent", "tools", "hooks"]
    legend: dict[str, Any] = {}
    for lane, (start, end) in _LANES.items():
        s = ev.loc[ev["event"] == start, "t_ms"].to_numpy()
        e = ev.loc[ev["event"] == end, "t_ms"].to_numpy()
        for a, b in zip(s, e, strict=False):
            legend[f"{lane} speech"] = ax.broken_barh(
                [(a / 1000, (b - a) / 1000)], (lanes.index(lane) - 0.4, 0.8),
                color=_TIMELINE_COLOURS[f"{lane} speech"])
    failed = _failed_tools(ev)
    for t in ev[ev["event"] == "tool_result"].itertuples(index=False):
        label = "tool failed" if (t.turn_id, str(t.name), t.t_ms) in failed else "tool ok"
        legend[label] = ax.broken_barh([((t.t_ms - t.value_ms) / 1000, t.value_ms / 1000)],
                                       (1.6, 0.8), color=_TIMELINE_COLOURS[label])
    hooks = ev[ev["event"] == "hook_call"]
    if len(hooks):
        legend["hook call"] = ax.scatter(hooks["t_ms"] / 1000, np.full(len(hooks), 3),
                                         marker="|", color=_TIMELINE_COLOURS["hook call"])
    for t in ev.loc[ev["event"] == "interruption", "t_ms"]:
        legend["interruption"] = ax.axvline(t / 1000, ls="--", lw=0.8,
                                            color=_TIMELINE_COLOURS["interruption"])
    if audio is not None:
        legend["audio"] = _waveform(ax, audio, sample_rate, lanes)
        lanes = [*lanes, "audio"]
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_xlabel("seconds since the call started")
    ax.set_title(session_id)
    ax.legend(legend.values(), legend.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize="small", frameon=False)
    return ax


_TIMELINE_COLOURS = {"user speech": "tab:blue", "agent speech": "tab:orange",
                     "tool ok": "tab:green", "tool failed": "tab:red",
                     "hook call": "tab:purple", "interruption": "tab:red", "audio": "0.5"}


def _failed_tools(ev: pd.DataFrame) -> set[tuple]:
    """(turn, tool, instant) of each failed tool: the call's ``error`` event from the tool's
    component (``tool:<name>``) at the instant of its result."""
    errors = ev[(ev["event"] == "error") & ev["name"].astype(str).str.startswith("tool:")]
    return {(t.turn_id, str(t.name)[len("tool:"):], t.t_ms)
            for t in errors.itertuples(index=False)}


def _waveform(ax: Any, audio: Any, sample_rate: int, lanes: list[str]) -> Any:
    if isinstance(audio, (str, bytes)) or hasattr(audio, "__fspath__"):
        import librosa  # the live extra; only needed for recorded audio

        audio, sample_rate = librosa.load(audio, sr=None, mono=True)
    y = np.asarray(audio, dtype=float)
    step = max(1, y.size // 4000)
    env = np.abs(y[: y.size // step * step]).reshape(-1, step).max(axis=1)
    t = np.arange(env.size) * step / sample_rate
    peak = env.max() or 1.0
    base = len(lanes)
    return ax.fill_between(t, base - 0.4 * env / peak, base + 0.4 * env / peak,
                           color=_TIMELINE_COLOURS["audio"])


def hook_cost(cost: pd.DataFrame, value: str = "wall_ms_mean", *, ax: Any = None) -> Any:
    """Bars of hook cost, one per handler (labelled by its short name; the CSV keeps the
    qualified one): ``al.analysis.hook_cost`` output, or the raw ``rec.hooks`` table
    (summarized here with it)."""
    if value not in cost.columns and {"wall_ms", "duration_ms", "ok"} <= set(cost.columns):
        from .analysis import hook_cost as summarize

        keys = [c for c in ("config", "hook", "handler") if c in cost.columns]
        cost = summarize(cost, by=keys)
    if value not in cost.columns:
        raise ConfigError(f"no column {value!r}; hook_cost columns are "
                          f"{', '.join(cost.columns)}.")
    ax = _axes(ax)
    keys = [c for c in ("config", "hook", "handler") if c in cost.columns]
    labels = [" / ".join(short_handler(v) if k == "handler" else str(v)
                         for k, v in zip(keys, row, strict=True))
              for row in cost[keys].itertuples(index=False)]
    bars = ax.barh(labels, cost[value].to_numpy())
    ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)  # a 0 stays visible as "0.0"
    ax.set_xlabel(value)
    ax.invert_yaxis()
    return ax


def hook_effect(effect: pd.DataFrame, *, ax: Any = None) -> Any:
    """Where each config's extra time per turn goes: one bar per candidate config,
    split by latency segment (the colours of :func:`segments`), each piece labelled with
    its segment and the handlers acting there (``al.analysis.hook_effect`` output)."""
    need = {"config", "segment", "delta_ms", "handlers"}
    if not need <= set(effect.columns):
        raise ConfigError(f"hook_effect() plots al.analysis.hook_effect(turns, hooks) "
                          f"output; missing columns {', '.join(sorted(need - set(effect)))}.")
    ax = _axes(ax)
    configs = list(dict.fromkeys(effect["config"].astype(str)))
    for y, config in enumerate(configs):
        right = left = 0.0  # positive pieces stack rightwards from 0, negative leftwards
        for r in effect[effect["config"].astype(str) == config].itertuples(index=False):
            width = float(r.delta_ms)
            if abs(width) < 0.5:  # a handler acting where nothing moved: no piece
                continue
            if width >= 0:
                start, right = right, right + width
            else:
                left += width
                start = left
            ax.barh(y, abs(width), left=start, color=_colour(r.segment), edgecolor="white")
            text = f"{r.segment} {width:+.0f} ms" + (f"\n{r.handlers}" if r.handlers else "")
            ax.text(start + abs(width) / 2, y, text, ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(configs)), configs)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("mean ms per turn vs the baseline")
    ax.invert_yaxis()
    return ax


def sensitivity(result: pd.DataFrame, *, ax: Any = None) -> Any:
    """Bars of ``al.analysis.sensitivity``: each segment's share of the tail's excess
    (and each factor's share of the tail's variance across cells), largest first."""
    ax = _axes(ax, (8, 4))
    rows = result.dropna(subset=["share"]).sort_values("share")
    labels = [f"{r.name} ({r.kind})" if r.kind == "factor" else r.name
              for r in rows.itertuples()]
    colours = [_colour(r.name) if r.kind == "segment" else "0.35" for r in rows.itertuples()]
    ax.barh(labels, rows["share"], color=colours)
    ax.axvline(0, color="0.2", lw=0.8)
    q, metric = result.attrs.get("q", 95), result.attrs.get("metric", "total_e2e_ms")
    ax.set_xlabel(f"share of the p{q:g} tail of {metric}")
    ax.set_title("What moves the tail")
    return ax


def pareto(points: pd.DataFrame, x: str, y: str, label: str = "config", *,
           lower_x: bool = True, higher_y: bool = True, ax: Any = None) -> Any:
    """One point per ``label`` (e.g. a config's p95 latency against its task success),
    with the Pareto frontier: the points no other point beats on both axes (lower ``x``
    and higher ``y`` by default)."""
    for col in (x, y, label):
        if col not in points.columns:
            raise ConfigError(f"pareto(): no column {col!r}; columns are "
                              f"{', '.join(map(str, points.columns))}.")
    ax = _axes(ax, (6, 4))
    sx = 1 if lower_x else -1
    sy = 1 if higher_y else -1
    best = []
    for r in points.itertuples(index=False):
        px, py = getattr(r, x), getattr(r, y)
        beaten = any((sx * q[0] <= sx * px and sy * q[1] >= sy * py) and (q[0], q[1]) !=
                     (px, py) for q in zip(points[x], points[y], strict=True))
        if not beaten:
            best.append((px, py))
    ax.scatter(points[x], points[y], color="0.4", zorder=3)
    for r in points.itertuples(index=False):
        ax.annotate(str(getattr(r, label)), (getattr(r, x), getattr(r, y)),
                    textcoords="offset points", xytext=(5, 4), fontsize=8)
    if best:
        fx, fy = zip(*sorted(best), strict=True)
        ax.plot(fx, fy, color="tab:red", lw=1.2, zorder=2, label="Pareto frontier")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax

"""The turns table's turn-taking columns: the endpointing delay, eager ends and resumes,
speculation (hits, misses, waste, overlap), the latency budget's levels, and first
audio of any kind next to the answer's (defined in docs/turn-taking.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

KEYS = ["session_id", "turn_id"]

# per turn: how many of these events it had (columns of docs/turn-taking.md)
_TURN_COUNTS = {"eager_ends": "eager_end_of_turn", "turn_resumes": "turn_resumed",
                "speculations": "speculation_start",
                "speculation_misses": "speculation_discarded"}


def turn_taking_columns(rec: Any, base: pd.DataFrame, frame: Any) -> pd.DataFrame:
    """Per turn: the endpointing delay, eager ends and resumes, speculation (hits,
    misses, waste, overlap), the latency budget's levels that fired, and first audio of
    any kind next to the answer's (docs/turn-taking.md defines each column). ``base``:
    the turns so far (keys, ``t_user_speech_end_ms``, ``e2e_latency_ms``);
    ``frame(rec, event, columns)`` reads an event's rows."""
    keys = base[KEYS]
    out = keys.copy()
    index = pd.MultiIndex.from_frame(keys.astype({"session_id": str}))
    delay = frame(rec, "user_turn", [*KEYS, "endpointing_ms"]).drop_duplicates(KEYS)
    out = out.merge(delay.rename(columns={"endpointing_ms": "endpointing_delay_ms"}),
                    on=KEYS, how="left")
    for column, event in _TURN_COUNTS.items():
        n = frame(rec, event, KEYS).groupby(KEYS, observed=True).size()
        out[column] = _per_turn(index, n, 0).astype("int64")
    used = frame(rec, "speculation_used", [*KEYS, "overlap_ms"]).drop_duplicates(KEYS)
    out = out.merge(used.rename(columns={"overlap_ms": "speculation_overlap_ms"}),
                    on=KEYS, how="left")
    out["speculation_hit"] = out["speculation_overlap_ms"].notna()
    waste = frame(rec, "speculation_discarded",
                   [*KEYS, "tokens_in", "tokens_out", "wasted_ms"]).groupby(
        KEYS, observed=True)[["tokens_in", "tokens_out", "wasted_ms"]].sum()
    out["wasted_tokens_in"] = _per_turn(index, waste["tokens_in"], 0).astype("int64")
    out["wasted_tokens_out"] = _per_turn(index, waste["tokens_out"], 0).astype("int64")
    out["wasted_ms"] = _per_turn(index, waste["wasted_ms"], 0.0)
    budget = frame(rec, "latency_budget", [*KEYS, "level"])
    for level in ("warning", "exceeded"):
        fired = budget[budget["level"] == level].groupby(KEYS, observed=True).size()
        out[f"budget_{level}"] = _per_turn(index, fired, 0).astype(bool)
    # any agent audio after the caller stopped (a filler, say()) vs the answer's own
    speech = frame(rec, "agent_speech_start", [*KEYS, "t_ms"])
    ends = base.set_index(KEYS)["t_user_speech_end_ms"]
    speech = speech.join(ends, on=KEYS)
    speech = speech[speech["t_ms"] >= speech["t_user_speech_end_ms"]]
    first = speech.groupby(KEYS, observed=True)["t_ms"].min()
    out["first_audio_ms"] = (_per_turn(index, first, np.nan)
                             - ends.reindex(pd.MultiIndex.from_frame(keys)).to_numpy())
    out["first_answer_audio_ms"] = base["e2e_latency_ms"].to_numpy()
    return out


def _per_turn(index: pd.MultiIndex, values: pd.Series, fill: Any) -> np.ndarray:
    """``values`` (indexed by session and turn) on the turns of ``index`` (session ids as
    str), ``fill`` elsewhere."""
    if len(values):
        values = values.copy()
        values.index = values.index.set_levels(values.index.levels[0].astype(str), level=0)
    return values.reindex(index).fillna(fill).to_numpy()

"""Building the recorder's tables from its Arrow batches.

Every table starts with ``run_id, session_id, scenario_id, config, seed, call_index,
source`` (labels join on the session; ``source`` is ``"agentlab"`` for agentlab's own calls
and ``"<format>:<file>"`` for imported ones), names are categoricals and times are float
milliseconds on the session clock. ``turns`` has one ``seg_<segment>_ms`` column per
latency segment (they sum to ``total_e2e_ms``) and peer-named metrics following REFERENCE
§2: ``transcription_delay_ms`` = final transcript - end of user speech (LiveKit),
``end_of_turn_delay_ms`` = turn commit - end of user speech (LiveKit), ``llm_ttft_ms`` =
first token - LLM request, ``tts_ttfb_ms`` = first TTS audio - first text to TTS,
``e2e_latency_ms`` = agent speech start - end of user speech (both peers' end-to-end).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..runtime.turn_model import CASCADE_SEGMENTS, S2S_SEGMENTS
from .recorder import AGENTLAB_SOURCE
from .schema import POOL
from .turn_columns import turn_taking_columns

KEYS = ["session_id", "turn_id"]
_NAME_FIELDS = ("tool_name", "hook", "component", "subagent_name", "to_agent", "reason", "level",
                "source", "state")
_VALUE_FIELDS = ("duration_ms", "total_e2e_ms", "reconnect_ms", "seconds", "wasted_ms",
                 "overlap_ms", "threshold_ms", "endpointing_ms", "held_ms")
_INSTANTS = ("user_speech_start", "user_speech_end", "stt_final", "user_turn", "llm_request",
             "llm_first_token", "tts_request", "tts_first_audio", "agent_speech_start",
             "agent_speech_end")
SEGMENT_ORDER = list(dict.fromkeys([*CASCADE_SEGMENTS, *S2S_SEGMENTS]))
PEER_METRICS = {
    "transcription_delay_ms": ("stt_final", "user_speech_end"),
    "end_of_turn_delay_ms": ("user_turn", "user_speech_end"),
    "llm_ttft_ms": ("llm_first_token", "llm_request"),
    "tts_ttfb_ms": ("tts_first_audio", "tts_request"),
    "e2e_latency_ms": ("agent_speech_start", "user_speech_end"),
}


def _frame(rec: Any, event: str, columns: list[str]) -> pd.DataFrame:
    table = rec.table(event).select(columns)
    if table.num_rows == 0:  # typed empty columns (empty Arrow-backed strings do not merge)
        return pd.DataFrame({f.name: pd.Series([], dtype=_empty_dtype(f.type))
                             for f in table.schema})
    return table.to_pandas()


def _empty_dtype(kind: pa.DataType) -> Any:
    if pa.types.is_integer(kind):
        return "int64"
    if pa.types.is_floating(kind):
        return "float64"
    if pa.types.is_boolean(kind):
        return bool
    return object


def _labelled(rec: Any, df: pd.DataFrame) -> pd.DataFrame:
    """Prefix the label columns (looked up per session) and make names categorical.

    Labels are taken per distinct session and spread with the session codes, not merged
    row by row: a merge would copy the whole frame, a million-row events table included.
    """
    sid = df["session_id"]
    sid = sid if isinstance(sid.dtype, pd.CategoricalDtype) else sid.astype("category")
    sid = sid.cat.reorder_categories(sorted(sid.cat.categories))  # same order in every table
    codes = sid.cat.codes.to_numpy()
    labels = rec.labels_frame().drop_duplicates("session_id", keep="last")
    per_session = labels.set_index("session_id").reindex(sid.cat.categories)
    keep_repeat = "agent_id" in df.columns  # the sessions table
    n = len(df)
    front = {"run_id": pd.Categorical.from_codes(np.zeros(n, np.int8), [rec.run_id]),
             "session_id": sid.array}
    for col in ("scenario_id", "config"):
        values = per_session[col].astype(object)
        if col == "config" and rec.config is not None:
            values = values.fillna(rec.config)
        front[col] = _spread(pd.Categorical(values.to_numpy()), codes)
    spread = ("seed", "call_index") + (("repeat",) if keep_repeat else ())
    for col in spread:
        values = pd.array(per_session[col].to_numpy(), dtype="Int64")
        front[col] = values.take(codes, allow_fill=True)
    # where the rows came from: agentlab's own calls, or the file an import read
    source = per_session["source"].astype(object).fillna(AGENTLAB_SOURCE)
    front["source"] = _spread(pd.Categorical(source.to_numpy()), codes)
    rest = {c: df[c].array for c in df.columns if c not in front}
    if keep_repeat:  # the sessions table ends with the repeat number
        repeat = front.pop("repeat")
        rest["repeat"] = repeat if repeat.isna().any() else repeat.astype("int64")
    return pd.DataFrame({**front, **rest}, copy=False)


def _spread(per_session: pd.Categorical, codes: np.ndarray) -> pd.Categorical:
    """Per-session categorical values repeated onto rows by session code (-1: missing)."""
    row_codes = np.where(codes >= 0, per_session.codes[codes], -1) if len(codes) else codes
    return pd.Categorical.from_codes(row_codes.astype(per_session.codes.dtype),
                                     per_session.categories)


def build_events(rec: Any) -> pd.DataFrame:
    parts = []
    names = sorted(rec.statistics()["by_event"])
    event_names = pa.array(names, pa.string())
    for code, name in enumerate(names):
        t = rec.table(name)
        n = t.num_rows
        cols = {"row": t["row"], "session_id": t["session_id"], "turn_id": t["turn_id"],
                "seq": t["seq"], "t_ms": t["t_ms"],
                "event": pa.DictionaryArray.from_arrays(
                    pa.array(np.full(n, code, np.int8)), event_names)}
        present = t.column_names
        cols["text"] = t["text"] if "text" in present else pa.nulls(n, pa.string())
        name_field = next((f for f in _NAME_FIELDS if f in present), None)
        cols["name"] = t[name_field].cast(pa.string()) if name_field else pa.nulls(
            n, pa.string())
        value_field = next((f for f in _VALUE_FIELDS if f in present), None)
        value = t[value_field].cast(pa.float64()) if value_field else pa.nulls(
            n, pa.float64())
        if value_field == "seconds":
            value = pc.multiply(value, 1000.0)
        cols["value_ms"] = value
        parts.append(pa.table(cols))
    if not parts:
        return _labelled(rec, pd.DataFrame(columns=["session_id", "turn_id", "seq", "t_ms",
                                                    "event", "text", "name", "value_ms"]))
    table = pa.concat_tables(parts)
    del parts
    # rows are numbered 0..N-1 in arrival order: scatter, no sort needed
    order = np.empty(table.num_rows, np.int64)
    order[table["row"].to_numpy()] = np.arange(table.num_rows)
    table = table.drop_columns(["row"])
    columns = {}
    for col in table.column_names:  # one column at a time keeps the transient copy small
        values = pc.take(table[col], order, memory_pool=POOL)
        if col in ("session_id", "name"):
            values = pc.dictionary_encode(values, memory_pool=POOL)
        columns[col] = values.to_pandas(memory_pool=POOL)
    del table, order
    df = pd.DataFrame(columns, copy=False)
    return _labelled(rec, df)


def _segment_parts(rec: Any):
    """The turn_end table, its segments flattened (names dictionary-encoded, ms) and each
    flat segment's parent row."""
    t = rec.table("turn_end")
    seg = (t["segments"].combine_chunks(memory_pool=POOL) if t.num_rows
           else pa.array([], t["segments"].type))
    flat = pc.list_flatten(seg)
    names = pc.dictionary_encode(flat.field("name"), memory_pool=POOL)
    parent = pc.list_parent_indices(seg).to_numpy(zero_copy_only=False)
    return t, seg, names, flat.field("ms").to_numpy(zero_copy_only=False), parent


def _session_ids(t: pa.Table) -> pa.Array:
    """A table's session ids dictionary-encoded (pandas gets a categorical, not a Python
    string per row)."""
    return pc.dictionary_encode(t["session_id"].combine_chunks(memory_pool=POOL),
                                memory_pool=POOL)


def _segments_long(rec: Any) -> pd.DataFrame:
    t, seg, names, ms, parent = _segment_parts(rec)
    df = pd.DataFrame({
        "session_id": pc.take(_session_ids(t), parent, memory_pool=POOL).to_pandas(),
        "turn_id": pc.take(t["turn_id"], parent, memory_pool=POOL).to_numpy(
            zero_copy_only=False),
        "segment": pd.Categorical.from_codes(
            names.indices.to_numpy(zero_copy_only=False).astype(np.int32),
            names.dictionary.to_pylist()) if len(ms) else pd.Categorical([]),
        "ms": ms,
    })
    starts = np.r_[0, np.cumsum(pc.list_value_length(seg).to_numpy(zero_copy_only=False))]
    df.insert(3, "position", np.arange(len(df)) - np.repeat(starts[:-1], np.diff(starts)))
    return df


def _segments_wide(rec: Any) -> pd.DataFrame:
    """One row per turn_end: KEYS and a ``seg_<name>_ms`` column per segment present, in
    pipeline order (columns filled from the flat segments, no pivot)."""
    t, _, names, ms, parent = _segment_parts(rec)
    present = names.dictionary.to_pylist()
    codes = names.indices.to_numpy(zero_copy_only=False)
    out = {"session_id": _session_ids(t).to_pandas(),
           "turn_id": t["turn_id"].to_numpy()}
    for name in SEGMENT_ORDER:
        if name not in present:
            continue
        at = codes == present.index(name)
        column = np.full(t.num_rows, np.nan)
        column[parent[at][::-1]] = ms[at][::-1]  # reversed: a turn's first value wins
        # seg_ prefix: segment llm_ttft excludes tool time, the peer metric does not
        out[f"seg_{name}_ms"] = column
    return pd.DataFrame(out).drop_duplicates(KEYS)


def build_segments(rec: Any) -> pd.DataFrame:
    df = _segments_long(rec)
    df["segment"] = df["segment"].cat.set_categories(SEGMENT_ORDER, ordered=True)
    return _labelled(rec, df)


def build_turns(rec: Any) -> pd.DataFrame:
    base = _frame(rec, "user_turn", [*KEYS, "text"]).rename(columns={"text": "user_text"})
    base = base.drop_duplicates(KEYS)
    agent = _frame(rec, "agent_turn", [*KEYS, "text"]).rename(columns={"text": "agent_text"})
    base = base.merge(agent.drop_duplicates(KEYS), on=KEYS, how="left")
    ends = _frame(rec, "turn_end", [*KEYS, "total_e2e_ms", "interrupted"])
    ends = ends.drop_duplicates(KEYS)
    base = base.merge(ends, on=KEYS, how="left", indicator=True)
    base["cancelled"] = base.pop("_merge") == "left_only"  # the call ended mid-turn
    base["interrupted"] = base["interrupted"].astype("boolean").fillna(False).astype(bool)
    wide = _segments_wide(rec)
    if len(wide.columns) > len(KEYS):
        wide["session_id"] = wide["session_id"].astype(base["session_id"].dtype)
        base = base.merge(wide, on=KEYS, how="left")
    for name in _INSTANTS:
        cols = [*KEYS, "t_ms"] + (["source"] if name == "agent_speech_start" else [])
        inst = _frame(rec, name, cols)
        if name == "agent_speech_start":  # the reply, not a say() in the same turn
            inst = inst[inst.pop("source") == "reply"]
        inst = inst.drop_duplicates(KEYS).rename(columns={"t_ms": f"t_{name}_ms"})
        base = base.merge(inst, on=KEYS, how="left")
    for metric, (later, earlier) in PEER_METRICS.items():
        base[metric] = base[f"t_{later}_ms"] - base[f"t_{earlier}_ms"]
    base = base.drop(columns=[f"t_{n}_ms" for n in _INSTANTS if n not in
                              ("user_speech_end", "agent_speech_start")])
    base = base.merge(turn_taking_columns(rec, base, _frame), on=KEYS, how="left")
    base = base.merge(_recorded_turns(rec), on=KEYS, how="left")
    base["recorded"] = base["recorded"].astype("boolean").fillna(True).astype(bool)
    base = base.sort_values(KEYS, kind="stable", key=_session_order(rec))
    return _labelled(rec, base)


_RECORDING_ON = ("started", "resumed")


def _recorded_turns(rec: Any) -> pd.DataFrame:
    """Per turn: whether the call was being recorded when the caller's turn was taken
    (a call is recorded from its start; ``recording`` events change that)."""
    turns = _frame(rec, "user_turn", [*KEYS, "row"]).drop_duplicates(KEYS)
    marks = _frame(rec, "recording", ["session_id", "row", "state"])
    if marks.empty or turns.empty:
        return turns.assign(recorded=True)[[*KEYS, "recorded"]]
    turns["session_id"] = turns["session_id"].astype(str)
    marks["session_id"] = marks["session_id"].astype(str)
    last = pd.merge_asof(turns.sort_values("row"), marks.sort_values("row"), on="row",
                         by="session_id", direction="backward")
    last["recorded"] = last["state"].isna() | last["state"].isin(_RECORDING_ON)
    return last[[*KEYS, "recorded"]]


def _recorded_ms(rec: Any, sessions: pd.DataFrame) -> pd.Series:
    """Per session: how long the call was recorded, from its start to its end."""
    marks = _frame(rec, "recording", ["session_id", "t_ms", "state"])
    by_session = {sid: list(zip(m["t_ms"], m["state"], strict=True))
                  for sid, m in marks.groupby(marks["session_id"].astype(str), sort=False)}
    out = []
    for sid, start, length in zip(sessions["session_id"].astype(str),
                                  sessions["t_start_ms"], sessions["duration_ms"], strict=True):
        end = length if pd.notna(length) else start
        on_since, total = start, 0.0
        for t, state in by_session.get(sid, ()):
            if state in _RECORDING_ON and on_since is None:
                on_since = t
            elif state not in _RECORDING_ON and on_since is not None:
                total, on_since = total + t - on_since, None
        out.append(total + (end - on_since if on_since is not None else 0.0))
    return pd.Series(out, index=sessions.index, dtype=float)


def _session_order(rec: Any):
    order = {sid: i for i, sid in enumerate(rec.session_ids())}

    def key(col: pd.Series) -> pd.Series:
        return col.map(order) if col.name == "session_id" else col

    return key


def build_tools(rec: Any) -> pd.DataFrame:
    calls = _frame(rec, "tool_call", ["session_id", "turn_id", "t_ms", "tool_call_id",
                                      "tool_name", "args", "agent_name", "execution"])
    results = _frame(rec, "tool_result", ["session_id", "t_ms", "tool_call_id", "result",
                                          "status", "duration_ms", "error"])
    df = calls.merge(results, on=["session_id", "tool_call_id"], how="outer",
                     suffixes=("_call", "_result"))
    df = df.rename(columns={"t_ms_call": "t_call_ms", "t_ms_result": "t_result_ms"})
    df["status"] = df["status"].fillna("pending")
    for col in ("tool_name", "status", "agent_name"):
        df[col] = df[col].astype("category")
    return _labelled(rec, df)


def build_hooks(rec: Any) -> pd.DataFrame:
    df = _frame(rec, "hook_call", ["session_id", "turn_id", "t_ms", "hook", "scope",
                                   "handler", "duration_ms", "wall_ns", "ok"])
    df["wall_ms"] = df.pop("wall_ns") / 1e6
    for col in ("hook", "scope", "handler"):
        df[col] = df[col].astype("category")
    return _labelled(rec, df)


def build_errors(rec: Any) -> pd.DataFrame:
    df = _frame(rec, "error", ["session_id", "turn_id", "t_ms", "component", "message",
                               "error_type", "handler", "severity"])
    for col in ("component", "error_type", "severity"):
        df[col] = df[col].astype("category")
    return _labelled(rec, df)


def build_sessions(rec: Any) -> pd.DataFrame:
    start = _frame(rec, "session_start", ["session_id", "agent_id", "call_id", "user_id",
                                          "direction", "t_ms"]).rename(
        columns={"t_ms": "t_start_ms"})
    end = _frame(rec, "session_end", ["session_id", "reason", "final_state", "duration_ms"])
    df = start.merge(end, on="session_id", how="left")
    turns = rec.table("user_turn")["session_id"].to_pandas().value_counts()
    df["turns"] = df["session_id"].map(turns).fillna(0).astype(int)
    df["recorded_ms"] = _recorded_ms(rec, df)
    for col in ("agent_id", "direction", "reason", "final_state"):
        df[col] = df[col].astype("category")
    return _labelled(rec, df)


def build_usage(rec: Any) -> pd.DataFrame:
    sessions = pd.DataFrame({"session_id": pd.Series(rec.session_ids(), dtype=object)})
    llm = _frame(rec, "llm_response", ["session_id", "tokens_in", "tokens_out"])
    tokens = llm.groupby("session_id", sort=False)[["tokens_in", "tokens_out"]].sum()
    agent = _frame(rec, "agent_turn", ["session_id", "text"])
    chars = agent.assign(n=agent["text"].str.len()).groupby("session_id", sort=False)["n"].sum()
    a = _frame(rec, "user_speech_start", [*KEYS, "t_ms"]).drop_duplicates(KEYS)
    b = _frame(rec, "user_speech_end", [*KEYS, "t_ms"]).drop_duplicates(KEYS)
    speech = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    stt = (speech["t_ms_b"] - speech["t_ms_a"]).groupby(speech["session_id"]).sum() / 1000.0
    df = sessions.join(tokens, on="session_id").fillna({"tokens_in": 0, "tokens_out": 0})
    # agentlab's own calls record every text and speech instant (none: 0); an imported
    # call without them comes from a source that does not record them: missing
    labels = rec.labels_frame().drop_duplicates("session_id", keep="last")
    foreign = labels["source"].notna() & (labels["source"] != AGENTLAB_SOURCE)
    imported = df["session_id"].isin(labels.loc[foreign, "session_id"])
    df["tts_characters"] = df["session_id"].map(chars).fillna(0).astype("Int64").mask(
        imported & ~df["session_id"].isin(chars.index))
    df["stt_seconds"] = df["session_id"].map(stt).fillna(0.0).mask(
        imported & ~df["session_id"].isin(stt.index))
    df[["tokens_in", "tokens_out"]] = df[["tokens_in", "tokens_out"]].astype(int)
    return _labelled(rec, df)


def build_quality(rec: Any) -> pd.DataFrame:
    from .quality import quality_table

    return _labelled(rec, quality_table(rec, _frame))

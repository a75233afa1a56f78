"""Building the recorder's tables from its Arrow batches.

Every table starts with ``run_id, session_id, scenario_id, config, seed`` (labels join on
the session), names are categoricals and times are float milliseconds on the session
clock. ``turns`` has one ``seg_<segment>_ms`` column per latency segment (they sum to
``total_e2e_ms``) and peer-named metrics following REFERENCE §2: ``transcription_delay_ms`` =
final transcript - end of user speech (LiveKit), ``end_of_turn_delay_ms`` = turn commit -
end of user speech (LiveKit), ``llm_ttft_ms`` = first token - LLM request,
``tts_ttfb_ms`` = first TTS audio - first text to TTS, ``e2e_latency_ms`` = agent speech
start - end of user speech (both peers' end-to-end).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..runtime.conversation import CASCADE_SEGMENTS, S2S_SEGMENTS

KEYS = ["session_id", "turn_id"]
_NAME_FIELDS = ("tool_name", "hook", "component", "subagent_name", "to_agent", "reason",
                "source")
_VALUE_FIELDS = ("duration_ms", "total_e2e_ms", "reconnect_ms", "seconds")
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
    """Prefix the label columns (joined on session_id) and make names categorical."""
    labels = rec.labels_frame()
    out = df.merge(labels, on="session_id", how="left") if len(labels) else df.assign(
        **{c: None for c in labels.columns if c != "session_id"})
    if rec.config is not None:
        out["config"] = out["config"].fillna(rec.config)
    out.insert(0, "run_id", rec.run_id)
    front = ["run_id", "session_id", "scenario_id", "config", "seed", "call_index"]
    keep_repeat = "agent_id" in out.columns  # the sessions table
    out = out[front + [c for c in out.columns if c not in front and
                       (c != "repeat" or keep_repeat)]]
    out["call_index"] = out["call_index"].astype("Int64")
    for col in ("run_id", "session_id", "scenario_id", "config"):
        out[col] = out[col].astype("category")
    out["seed"] = out["seed"].astype("Int64")
    return out.reset_index(drop=True)


def build_events(rec: Any) -> pd.DataFrame:
    parts = []
    for name in sorted(rec.statistics()["by_event"]):
        t = rec.table(name)
        cols = {"row": t["row"], "session_id": t["session_id"], "turn_id": t["turn_id"],
                "seq": t["seq"], "t_ms": t["t_ms"],
                "event": pa.array([name] * t.num_rows, pa.string())}
        present = t.column_names
        cols["text"] = t["text"] if "text" in present else pa.nulls(t.num_rows, pa.string())
        name_field = next((f for f in _NAME_FIELDS if f in present), None)
        cols["name"] = t[name_field].cast(pa.string()) if name_field else pa.nulls(
            t.num_rows, pa.string())
        value_field = next((f for f in _VALUE_FIELDS if f in present), None)
        value = t[value_field].cast(pa.float64()) if value_field else pa.nulls(
            t.num_rows, pa.float64())
        if value_field == "seconds":
            value = pc.multiply(value, 1000.0)
        cols["value_ms"] = value
        parts.append(pa.table(cols))
    if not parts:
        return _labelled(rec, pd.DataFrame(columns=["session_id", "turn_id", "seq", "t_ms",
                                                    "event", "text", "name", "value_ms"]))
    table = pa.concat_tables(parts).sort_by("row").drop_columns(["row"])
    table = table.set_column(table.schema.get_field_index("event"), "event",
                             pc.dictionary_encode(table["event"]))
    df = table.to_pandas()
    df["name"] = df["name"].astype("category")
    return _labelled(rec, df)


def _segments_long(rec: Any) -> pd.DataFrame:
    t = rec.table("turn_end")
    seg = t["segments"].combine_chunks() if t.num_rows else pa.array([], t["segments"].type)
    flat = pc.list_flatten(seg)
    parent = pc.list_parent_indices(seg)
    df = pd.DataFrame({
        "session_id": pc.take(t["session_id"], parent).to_pandas(),
        "turn_id": pc.take(t["turn_id"], parent).to_pandas(),
        "segment": flat.field("name").to_pandas(),
        "ms": flat.field("ms").to_pandas(),
    })
    starts = np.r_[0, np.cumsum(pc.list_value_length(seg).to_numpy(zero_copy_only=False))]
    df.insert(3, "position", np.arange(len(df)) - np.repeat(starts[:-1], np.diff(starts)))
    return df


def build_segments(rec: Any) -> pd.DataFrame:
    df = _segments_long(rec)
    df["segment"] = pd.Categorical(df["segment"], categories=SEGMENT_ORDER, ordered=True)
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
    seg = _segments_long(rec)
    if len(seg):
        wide = seg.pivot_table(index=KEYS, columns="segment", values="ms", aggfunc="first",
                               sort=False)
        order = [s for s in SEGMENT_ORDER if s in wide.columns]
        # seg_ prefix: segment llm_ttft excludes tool time, the peer metric does not
        wide = wide[order].add_prefix("seg_").add_suffix("_ms").reset_index()
        wide.columns.name = None
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
    base = base.sort_values(KEYS, kind="stable", key=_session_order(rec))
    return _labelled(rec, base)


def _session_order(rec: Any):
    order = {sid: i for i, sid in enumerate(rec.session_ids())}

    def key(col: pd.Series) -> pd.Series:
        return col.map(order) if col.name == "session_id" else col

    return key


def build_tools(rec: Any) -> pd.DataFrame:
    calls = _frame(rec, "tool_call", ["session_id", "turn_id", "t_ms", "tool_call_id",
                                      "tool_name", "args", "agent_name"])
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
    for col in ("agent_id", "direction", "reason", "final_state"):
        df[col] = df[col].astype("category")
    return _labelled(rec, df)


def build_usage(rec: Any) -> pd.DataFrame:
    sessions = pd.DataFrame({"session_id": rec.session_ids()})
    llm = _frame(rec, "llm_response", ["session_id", "tokens_in", "tokens_out"])
    tokens = llm.groupby("session_id", sort=False)[["tokens_in", "tokens_out"]].sum()
    agent = _frame(rec, "agent_turn", ["session_id", "text"])
    chars = agent.assign(n=agent["text"].str.len()).groupby("session_id", sort=False)["n"].sum()
    a = _frame(rec, "user_speech_start", [*KEYS, "t_ms"]).drop_duplicates(KEYS)
    b = _frame(rec, "user_speech_end", [*KEYS, "t_ms"]).drop_duplicates(KEYS)
    speech = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    stt = (speech["t_ms_b"] - speech["t_ms_a"]).groupby(speech["session_id"]).sum() / 1000.0
    df = sessions.join(tokens, on="session_id").fillna({"tokens_in": 0, "tokens_out": 0})
    df["tts_characters"] = df["session_id"].map(chars).fillna(0).astype(int)
    df["stt_seconds"] = df["session_id"].map(stt).fillna(0.0)
    df[["tokens_in", "tokens_out"]] = df[["tokens_in", "tokens_out"]].astype(int)
    return _labelled(rec, df)

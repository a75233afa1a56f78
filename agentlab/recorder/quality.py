"""The ``quality`` table: one row per call, how the conversation went between the two
speakers (docs/turn-taking.md defines each column).

Speech intervals come from the events: the caller's ``user_speech_start`` ..
``user_speech_end`` per turn, the agent's ``agent_speech_start`` .. ``agent_speech_end``
per utterance (replies and say()), paired in order per source.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

QUALITY_COLUMNS = ("interruptions", "false_interruptions", "barge_in_recovery",
                   "agent_talk_ms", "caller_talk_ms", "talk_to_listen", "longest_monologue_ms",
                   "overlap_ms", "gap_ms", "mean_gap_ms")


def quality_table(rec: Any, frame: Any) -> pd.DataFrame:
    """The quality table without its labels (``frame(rec, event, columns)`` reads an
    event's rows)."""
    sessions = pd.DataFrame({"session_id": pd.Series(rec.session_ids(), dtype=object)})
    caller = _intervals(frame(rec, "user_speech_start", ["session_id", "row", "t_ms"]),
                        frame(rec, "user_speech_end", ["session_id", "row", "t_ms"]))
    starts = frame(rec, "agent_speech_start", ["session_id", "row", "t_ms", "source"])
    ends = frame(rec, "agent_speech_end", ["session_id", "row", "t_ms", "source"])
    agent = pd.concat([_intervals(starts[starts["source"] == s], ends[ends["source"] == s])
                       for s in sorted(set(starts["source"]))] or [_intervals(starts, ends)])
    counts = {name: frame(rec, event, ["session_id"])["session_id"].astype(str)
              .value_counts() for name, event in (("interruptions", "interruption"),
                                                  ("false_interruptions",
                                                   "false_interruption"))}
    recovery = _recovery(rec, frame)
    rows = []
    by_caller = {sid: g for sid, g in caller.groupby("session_id", sort=False)}
    by_agent = {sid: g for sid, g in agent.groupby("session_id", sort=False)}
    empty = pd.DataFrame({"start": [], "end": []})
    for sid in sessions["session_id"]:
        c = by_caller.get(sid, empty)
        a = by_agent.get(sid, empty)
        gaps = _gaps(c, a)
        agent_ms = float((a["end"] - a["start"]).sum())
        caller_ms = float((c["end"] - c["start"]).sum())
        rows.append({
            "interruptions": int(counts["interruptions"].get(sid, 0)),
            "false_interruptions": int(counts["false_interruptions"].get(sid, 0)),
            "barge_in_recovery": recovery.get(sid, np.nan),
            "agent_talk_ms": agent_ms, "caller_talk_ms": caller_ms,
            "talk_to_listen": agent_ms / caller_ms if caller_ms else np.nan,
            "longest_monologue_ms": _longest_monologue(a, c),
            "overlap_ms": _overlap(a, c),
            "gap_ms": float(sum(gaps)), "mean_gap_ms": float(np.mean(gaps)) if gaps
            else np.nan})
    return pd.concat([sessions, pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))], axis=1)


def _intervals(starts: pd.DataFrame, ends: pd.DataFrame) -> pd.DataFrame:
    """Start and end instants paired in arrival order per session (an unfinished one,
    the call ended in it, is left out)."""
    out = []
    by_session = {sid: e for sid, e in ends.groupby(ends["session_id"].astype(str),
                                                     sort=False)}
    for sid, s in starts.groupby(starts["session_id"].astype(str), sort=False):
        e = by_session.get(sid, ends.iloc[:0]).sort_values("row")
        s = s.sort_values("row")
        n = min(len(s), len(e))
        out.append(pd.DataFrame({"session_id": sid, "start": s["t_ms"].to_numpy()[:n],
                                 "end": e["t_ms"].to_numpy()[:n]}))
    if not out:
        return pd.DataFrame({"session_id": [], "start": [], "end": []})
    return pd.concat(out, ignore_index=True)


def _overlap(a: pd.DataFrame, c: pd.DataFrame) -> float:
    """How long both spoke at once."""
    total = 0.0
    for s1, e1 in zip(a["start"], a["end"], strict=True):
        for s2, e2 in zip(c["start"], c["end"], strict=True):
            total += max(0.0, min(e1, e2) - max(s1, s2))
    return total


def _gaps(c: pd.DataFrame, a: pd.DataFrame) -> list[float]:
    """The silences between one speaker stopping and the other starting (nobody
    speaking), one per change of speaker."""
    marks = sorted([(s, e, "caller") for s, e in zip(c["start"], c["end"], strict=True)] +
                   [(s, e, "agent") for s, e in zip(a["start"], a["end"], strict=True)])
    gaps, last_end, last_who = [], None, None
    for start, end, who in marks:
        if last_end is not None and who != last_who and start > last_end:
            gaps.append(start - last_end)
        if last_end is None or end > last_end:
            last_end, last_who = end, who
    return gaps


def _longest_monologue(a: pd.DataFrame, c: pd.DataFrame) -> float:
    """The longest run of the agent's utterances with no caller speech starting in it,
    from its first start to its last end."""
    caller_starts = np.sort(c["start"].to_numpy())
    best, run_start, run_end = 0.0, None, None
    for start, end in sorted(zip(a["start"], a["end"], strict=True)):
        if run_start is not None and not np.any((caller_starts >= run_end)
                                                & (caller_starts <= start)):
            run_end = max(run_end, end)
        else:
            run_start, run_end = start, end
        best = max(best, run_end - run_start)
    return best


def _recovery(rec: Any, frame: Any) -> dict[str, float]:
    """Per call, of its interruptions: the share after which the agent's next reply
    answers the turn that talked over it (a reply to that turn, not cancelled, not the
    interrupted reply again). NaN for a call with no interruption."""
    cut = frame(rec, "interruption", ["session_id", "turn_id"])
    replies = frame(rec, "agent_turn", ["session_id", "turn_id", "text"])
    ends = frame(rec, "turn_end", ["session_id", "turn_id"])
    said = {(str(s), t): x for s, t, x in zip(replies["session_id"], replies["turn_id"],
                                              replies["text"], strict=True)}
    done = set(zip(ends["session_id"].astype(str), ends["turn_id"], strict=True))
    out: dict[str, list[bool]] = {}
    for sid, turn in zip(cut["session_id"].astype(str), cut["turn_id"], strict=True):
        nxt = (sid, turn + 1)
        ok = nxt in said and nxt in done and said[nxt] != said.get((sid, turn))
        out.setdefault(sid, []).append(ok)
    return {sid: float(np.mean(v)) for sid, v in out.items()}

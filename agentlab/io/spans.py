"""One trace's spans (OTLP/JSON dicts), as the Pipecat and LiveKit readers walk them."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any


class Trace:
    """A trace's spans with its root: times in ms from the root's start, children by
    parent, and the spans' attributes checked against what a reader knows."""

    def __init__(self, spans: list[dict], root: dict, attrs_of: Any):
        self.spans, self.root = spans, root
        decoded: dict[str, dict] = {}  # a span's attributes are decoded once

        def cached(span: dict) -> dict:
            key = span["spanId"]
            if key not in decoded:
                decoded[key] = attrs_of(span)
            return decoded[key]

        self.attrs_of = cached
        self.t0 = int(root["startTimeUnixNano"])
        self.children: dict[str, list[dict]] = {}
        for span in spans:
            self.children.setdefault(span.get("parentSpanId", ""), []).append(span)

    def ms(self, ns: Any) -> float:
        return (int(ns) - self.t0) / 1e6

    def count_unknown(self, known: dict[str, set[str]], unknown: Counter,
                      structure: frozenset[str] = frozenset()) -> None:
        """Count every attribute (and span kind) the reader does not map; spans in
        ``structure`` carry nothing the tables hold and are passed over."""
        for span in self.spans:
            names = known.get(span["name"])
            if names is None:
                if span["name"] not in structure:
                    unknown[f"span {span['name']}"] += 1
                continue
            for key in self.attrs_of(span).keys() - names:
                unknown[key] += 1

    def descendants(self, span: dict, name: str) -> list[dict]:
        """The spans called ``name`` anywhere under ``span``, in time order."""
        found, todo = [], list(self.children.get(span["spanId"], []))
        while todo:
            child = todo.pop()
            if child["name"] == name:
                found.append(child)
            todo += self.children.get(child["spanId"], [])
        return sorted(found, key=lambda s: int(s["startTimeUnixNano"]))


def numbered(out: list[tuple[float, int, type, tuple]], sid: str) -> list[tuple]:
    """``(t_ms, turn_id, cls, fields)`` entries as recorder rows, in time order (ties in
    the order they were made), numbered as a bus numbers events."""
    out = sorted(out, key=lambda r: r[0])
    return [(cls, sid, turn_id, seq, t, fields)
            for seq, (t, turn_id, cls, fields) in enumerate(out, 1)]


def json_or_text(raw: Any) -> Any:
    """A JSON-encoded attribute's value; the value itself when it is not JSON text."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw

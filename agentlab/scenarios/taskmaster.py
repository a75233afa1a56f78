"""Import Taskmaster-4 dialogs (google-research-datasets/Taskmaster, CC BY 4.0) as
scenarios: the real user utterances become caller turns, the real assistant utterances
the agent's replies, and each annotated ``api_call``/``api_response`` pair a tool call with
its recorded arguments and result.

Format: a list of conversations with ``conversation_id`` and ``utterances``; each
utterance has ``speaker`` (user | assistant), ``text`` and ``annotations`` (name, value,
context). A tool use is ``api_call`` (tool name) + ``request`` (JSON arguments) under
context ``api_call_N``, and ``api_response`` + ``response`` (JSON result) under
``api_response_N``, on the utterance that triggers it.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ConfigError

ATTRIBUTION = ("Taskmaster-4 (google-research-datasets/Taskmaster), Bill Byrne and "
               "Saravanan Ganesh, Google LLC")
LICENSE = "CC-BY-4.0"
TOOL_LATENCY_MS = 300.0


def is_taskmaster(data: Any) -> bool:
    """Whether ``data`` looks like a Taskmaster conversation list."""
    return (isinstance(data, list) and bool(data) and isinstance(data[0], dict)
            and "utterances" in data[0] and "conversation_id" in data[0])


def convert(dialogs: list[dict], where: str = "taskmaster") -> list[dict]:
    """Scenario dicts (the :mod:`agentlab.scenarios.model` format) for ``dialogs``."""
    return [convert_dialog(d, f"{where}[{i}]") for i, d in enumerate(dialogs)]


def convert_dialog(dialog: dict, where: str = "dialog") -> dict:
    try:
        cid = dialog["conversation_id"]
        utterances = sorted(dialog["utterances"], key=lambda u: u.get("index", 0))
    except (KeyError, TypeError) as err:
        raise ConfigError(f"{where}: a Taskmaster dialog needs 'conversation_id' and "
                          f"'utterances' ({err!r}).") from None
    greeting: list[str] = []
    turns: list[dict] = []
    tools: dict[str, dict] = {}
    expected: list[str] = []
    for j, utt in enumerate(utterances):
        speaker, text = utt.get("speaker"), (utt.get("text") or "").strip()
        if speaker not in ("user", "assistant"):
            raise ConfigError(f"{where}.utterances[{j}]: field 'speaker' must be user or "
                              f"assistant, got {speaker!r}.")
        calls = _tool_calls(utt.get("annotations") or [], f"{where}.utterances[{j}]")
        if speaker == "user":
            if turns and not turns[-1].get("agent") and not turns[-1]["tool_calls"]:
                turns[-1]["user"] += " " + text  # the user went on: one longer turn
            elif text:
                turns.append({"user": text, "tool_calls": []})
        elif text and not turns:
            greeting.append(text)
        elif text:
            turns[-1]["agent"] = f"{turns[-1].get('agent', '')} {text}".strip()
        if calls:
            if not turns:  # a tool used before the caller spoke: part of the first turn
                turns.append({"user": "Hello.", "tool_calls": []})
            turns[-1]["tool_calls"].extend(calls)
            for call in calls:
                tools.setdefault(call["name"], {"latency_ms": TOOL_LATENCY_MS})
                expected.append(call["name"])
    for t in turns:
        if not t["tool_calls"]:
            del t["tool_calls"]
    return {
        "id": f"tm4-{cid.removeprefix('dlg-')[:8]}",
        "description": dialog.get("scenario") or "Taskmaster-4 dialog",
        "goal": dialog.get("instructions") or "",
        "greeting": " ".join(greeting) or None,
        "tools": tools, "turns": turns,
        "expected": {"tools": expected, "outcome": "hangup"},
        "source": f"{ATTRIBUTION}, {cid}", "license": LICENSE,
    }


def _tool_calls(annotations: list[dict], where: str) -> list[dict]:
    """The utterance's api calls in order, each with its arguments and recorded result."""
    by_context: dict[str, dict[str, Any]] = {}
    for a in annotations:
        by_context.setdefault(a.get("context") or "", {})[a.get("name")] = a.get("value")
    calls = []
    for context, fields in by_context.items():
        if not context.startswith("api_call_") or "api_call" not in fields:
            continue
        n = context.removeprefix("api_call_")
        response = by_context.get(f"api_response_{n}", {})
        call = {"name": fields["api_call"], "args": _json(fields.get("request"), where)}
        if "response" in response:
            call["result"] = _json(response["response"], where)
        calls.append((_order(n), call))
    return [c for _, c in sorted(calls, key=lambda item: item[0])]


def _order(n: str) -> tuple[int, str]:
    return (int(n), n) if n.isdigit() else (1 << 30, n)


def _json(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value if value is not None else {}
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return {"raw": value}  # keep malformed annotations rather than drop the call


def main(argv: list[str] | None = None) -> int:
    """``python -m agentlab.scenarios.taskmaster DIALOGS.json OUT.json``: convert a file."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Convert Taskmaster-4 dialogs to scenarios.")
    parser.add_argument("dialogs", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    scenarios = convert(json.loads(args.dialogs.read_text()), args.dialogs.name)
    args.out.write_text(json.dumps(scenarios, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(scenarios)} scenarios -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

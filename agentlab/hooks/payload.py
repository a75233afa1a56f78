"""Read-only event payloads handed to framework hooks.

The framework vocabulary comes from a TypeScript SDK whose hooks receive objects such as
``{sessionId, turnId, segments: {totalE2EMs}}``. A :class:`HookPayload` answers to the
snake_case name, the camelCase name, attribute access and item access alike, so a handler
ported from that document reads its fields unchanged.

>>> p = HookPayload({"session_id": "s1", "segments": {"total_e2e_ms": 812.0}})
>>> p.sessionId, p["session_id"], p.segments.totalE2EMs
('s1', 's1', 812.0)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def _norm(key: str) -> str:
    # camelCase and snake_case spellings meet here; the seed's "gemini" segments are our
    # speech-to-speech "model" segments.
    return key.replace("_", "").lower().replace("gemini", "model")


class HookPayload(Mapping):
    """Immutable mapping with attribute access under snake_case and camelCase names."""

    __slots__ = ("_data", "_index")

    def __init__(self, data: Mapping[str, Any]):
        object.__setattr__(self, "_data", dict(data))
        object.__setattr__(self, "_index", None)

    def _key(self, key: str) -> str:
        if key in self._data:
            return key
        index = self._index
        if index is None:
            index = {_norm(k): k for k in self._data}
            object.__setattr__(self, "_index", index)
        return index.get(_norm(key), key)

    def __getitem__(self, key: str) -> Any:
        value = self._data[self._key(key)]
        return HookPayload(value) if isinstance(value, dict) else value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"hook payload has no field {key!r}; fields: {', '.join(self._data)}"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("hook payloads are read-only")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._data.items())
        return f"HookPayload({inner})"

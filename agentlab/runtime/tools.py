"""Tools the agent may call: ``@al.tool`` async functions with a JSON schema taken from
their signature, and the simulated stand-ins scenarios declare.

Example
-------
>>> import agentlab as al
>>> @al.tool
... async def lookup_order(order_id: str, include_items: bool = False) -> dict:
...     '''Find an order by its id.'''
...     return {"order_id": order_id, "status": "shipped"}
>>> lookup_order.schema["parameters"]["required"]
['order_id']
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean",
               dict: "object", list: "array", tuple: "array"}


@dataclass(frozen=True)
class Tool:
    """An async function the agent can call, with its name, description and schema."""

    fn: Callable[..., Awaitable[Any]]
    name: str
    description: str
    schema: dict
    timeout_s: float | None = None
    background: bool = False  # the turn does not wait; the result is announced when it lands

    async def __call__(self, **args: Any) -> Any:
        return await self.fn(**args)

    def __repr__(self) -> str:
        params = ", ".join(self.schema["parameters"]["properties"])
        return f"Tool({self.name}({params}))"


def tool(fn: Callable | None = None, *, name: str | None = None,
         timeout_s: float | None = None, background: bool = False):
    """Make an async function a tool: ``@al.tool`` or ``@al.tool(name=..., timeout_s=...,
    background=True)``. A background tool runs while the turn goes on (``on_tool_call``
    says ``execution: "background"``); the agent announces its result when it lands.
    The JSON schema (OpenAI function-calling shape) comes from the signature's type hints
    and defaults; the description from the docstring's first paragraph."""
    def wrap(f: Callable) -> Tool:
        if not inspect.iscoroutinefunction(f):
            raise ConfigError(f"@al.tool needs an async function; {f.__qualname__} is a "
                              f"plain def. Write `async def {f.__name__}(...)`.")
        doc = inspect.getdoc(f) or ""
        return Tool(f, name or f.__name__, doc.split("\n\n")[0].strip(),
                    {"name": name or f.__name__, "description": doc.split("\n\n")[0].strip(),
                     "parameters": _parameters(f)}, timeout_s, background)

    return wrap(fn) if fn is not None else wrap


def _parameters(fn: Callable) -> dict:
    hints = typing.get_type_hints(fn)
    props: dict[str, dict] = {}
    required = []
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        props[pname] = _json_type(hints.get(pname, Any))
        if param.default is param.empty:
            required.append(pname)
        else:
            props[pname]["default"] = param.default
    return {"type": "object", "properties": props, "required": required}


def _json_type(hint: Any) -> dict:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _json_type(options[0]) if len(options) == 1 else {}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin in (list, tuple):
        args = typing.get_args(hint)
        return {"type": "array", **({"items": _json_type(args[0])} if args else {})}
    if origin is dict:
        return {"type": "object"}
    return {"type": _JSON_TYPES[hint]} if hint in _JSON_TYPES else {}


def as_tools(tools: Any) -> dict[str, Tool]:
    """Normalise ``tools=`` (Tools, async functions, or a dict) to name -> Tool."""
    if tools is None:
        return {}
    items = tools.values() if isinstance(tools, dict) else tools
    out = {}
    for t in items:
        t = t if isinstance(t, Tool) else tool(t)
        out[t.name] = t
    return out

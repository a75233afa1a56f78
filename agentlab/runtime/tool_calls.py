"""Running the agent's tool calls inside a simulated turn.

A call runs the runner's real ``@al.tool`` function of that name if there is one (on the
session clock, with its timeout), else the scenario's simulated stand-in (its latency,
result or error). Either way ``tool_call`` fires before it runs and ``tool_result`` after
it completes, errors or is cancelled; an error or a timeout also becomes an ``error`` event
(component ``tool:<name>``), and the call goes on.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .. import events as ev
from ..errors import ToolError
from ..scenarios.model import SimulatedTool, ToolStep
from .ending import ENDED
from .tools import Tool


async def run_tool_calls(conv: Any, steps: tuple[ToolStep, ...]) -> list[dict]:
    """Run ``steps`` in order; returns one {name, status, result, error} per call."""
    bus = conv.session.bus
    outcomes = []
    for k, step in enumerate(steps):
        call_id = f"{bus.session_id}-t{bus.turn_id}-{k}"
        real = conv.tools.get(step.name)
        background = real is not None and real.background
        await bus.emit(ev.ToolCall, call_id, step.name, dict(step.args),
                       bus.context.agent_id if bus.context is not None else "",
                       "background" if background else "inline")
        if background:  # the turn goes on; the result is announced when it lands
            conv.start_background(_in_background(conv, step, call_id))
            outcomes.append({"name": step.name, "status": "pending", "result": None,
                             "error": None})
            continue
        start = conv.now()
        try:
            status, result, failure = await _execute(conv, step)
        except ENDED:  # the call ended while the tool ran (a hang-up, the time limit)
            await _cancelled(conv, step, call_id, start, "ran")
            raise
        error = None if failure is None else _message(failure)
        await bus.emit(ev.ToolResult, call_id, step.name, result, status,
                       conv.now() - start, error)
        if failure is not None:  # on_error gets the exception itself (bodhi types it Error)
            await bus.emit_error(f"tool:{step.name}", failure,
                                 severity="warn" if status == "cancelled" else "error")
        outcomes.append({"name": step.name, "status": status, "result": result,
                         "error": error})
    conv.session.data.setdefault("tool_results", []).extend(outcomes)
    return outcomes


async def _in_background(conv: Any, step: ToolStep, call_id: str) -> None:
    """A background tool: its result (or failure) when it lands, then the agent says it.
    The call ending first cancels it (``tool_result`` with status ``cancelled``)."""
    bus = conv.session.bus
    start = conv.now()
    turn = bus.turn_id
    try:
        status, result, failure = await _execute(conv, step)
    except ENDED:
        await _cancelled(conv, step, call_id, start, "ran in the background")
        return
    error = None if failure is None else _message(failure)
    await bus.emit(ev.ToolResult, call_id, step.name, result, status, conv.now() - start,
                   error)
    if failure is not None:
        await bus.emit_error(f"tool:{step.name}", failure, turn_id=turn,
                             severity="warn" if status == "cancelled" else "error")
    conv.session.data.setdefault("tool_results", []).append(
        {"name": step.name, "status": status, "result": result, "error": error})
    await conv.until_quiet()  # not over the reply it landed in
    if not conv.ending:
        await conv.session.say(_announcement(step.name, result, error))


async def _cancelled(conv: Any, step: ToolStep, call_id: str, start: float,
                     how: str) -> None:
    """``tool_result`` for a tool the call's end cut off: the docs promise it fires when a
    tool "completes, errors or is cancelled"."""
    await conv.session.bus.emit(ev.ToolResult, call_id, step.name, None, "cancelled",
                                conv.now() - start, f"the call ended "
                                f"({conv.ending or 'cancelled'}) while {step.name} {how}")


def _announcement(name: str, result: Any, error: str | None) -> str:
    if error is not None:
        return f"Sorry, I could not finish {name.replace('_', ' ')}."
    if isinstance(result, str):
        return result
    return f"An update on {name.replace('_', ' ')}: {json.dumps(result, default=str)}."


def _message(failure: BaseException) -> str:
    if isinstance(failure, (ToolError, TimeoutError)):
        return str(failure)
    return f"{type(failure).__name__}: {failure}"


async def _execute(conv: Any, step: ToolStep) -> tuple[str, Any, BaseException | None]:
    real: Tool | None = conv.tools.get(step.name)
    declared: SimulatedTool | None = conv.plan.tools.get(step.name)
    if real is not None:
        timeout = real.timeout_s
        if timeout is None and declared is not None and declared.timeout_ms is not None:
            timeout = declared.timeout_ms / 1000.0
        try:
            return "completed", await asyncio.wait_for(real(**step.args), timeout), None
        except TimeoutError as err:
            if timeout is None:  # the tool's own TimeoutError: it failed, nothing timed out
                return "error", None, err
            return "cancelled", None, TimeoutError(f"{step.name} timed out after "
                                                   f"{timeout:g} s").with_traceback(
                                                       err.__traceback__)
        except Exception as err:  # a failing tool is reported, not fatal to the call
            return "error", None, err
    if declared is None:
        return "error", None, ToolError(f"no tool named {step.name!r}: register it with "
                                        f"al.AgentRunner(tools=[...]) or declare it under "
                                        f"the scenario's 'tools'")
    timeout_ms = declared.timeout_ms
    if timeout_ms is not None and declared.latency_ms > timeout_ms:
        await conv.sleep(timeout_ms)
        return "cancelled", None, TimeoutError(f"{step.name} timed out after "
                                               f"{timeout_ms / 1000:g} s")
    await conv.sleep(declared.latency_ms)
    error = step.error or declared.error
    if error is not None:
        return "error", None, ToolError(error)
    return "completed", declared.result if step.result is ... else step.result, None

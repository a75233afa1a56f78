"""``al.simulate`` / ``al.simulate_sync``: run calls through a runner on virtual time."""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from .. import events as ev
from ..clock import run_in_thread, run_virtual
from ..components import LLM, STT, TTS, Profile, load_profile
from ..errors import AgentlabError, ConfigError
from ..plugins import compose_profile, pipeline_components, simulated
from ..scenarios.model import CallSetup, Persona, Scenario
from .call_lifecycle import play_call
from .caller import CallerTurn, CallPlan
from .conversation import Conversation
from .finished_calls import finished_calls_skip_gc, release_frames
from .runner import AgentRunner, CallContext
from .session import Session
from .turn_taking import turn_taking_of

DEFAULT_PROFILE = "deepgram-gpt4o-cartesia-webrtc"
DEFAULT_SCRIPT = ("Hi, I need some help with my order.",
                  "It was placed last week and has not arrived yet.",
                  "Okay, thanks. That is all.")


@dataclass
class CallResult:
    """What one simulated call left behind."""

    session_id: str
    call_index: int
    final_state: str
    reason: str
    spoken: list[str]
    session: Session = field(repr=False)
    scenario_id: str = ""
    repeat: int = 0


@dataclass(repr=False)
class Simulation:
    """Events of every call, in call order, plus per-call results. The calls log event
    rows (``events.row_of``); ``events`` builds the objects the first time it is read."""

    rows: list[tuple]
    calls: list[CallResult]
    seed: int
    recorder: Any = None  # the recorder= passed, if any

    @cached_property
    def events(self) -> list[ev.Event]:
        """Every call's canonical events, in call order."""
        return list(map(ev.event_of, self.rows))

    def __repr__(self) -> str:
        # short and deterministic: a notebook cell ending in a Simulation must not print
        # every event
        states = Counter(c.final_state for c in self.calls)
        shown = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        return (f"Simulation({len(self.calls)} calls ({shown}), {len(self.rows)} events, "
                f"seed={self.seed})")

    def turns(self):
        """One row per completed turn with its segments (a pandas DataFrame)."""
        import pandas as pd

        scenario = {c.session_id: c.scenario_id for c in self.calls}
        rows = []
        for e in self.events:
            if e.name == "turn_end":
                row = {"session_id": e.session_id, "turn_id": e.turn_id,
                       "total_e2e_ms": e.total_e2e_ms, "interrupted": e.interrupted}
                row.update({f"{k}_ms": v for k, v in e.segments})
                row["scenario_id"] = scenario.get(e.session_id, "")
                rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Call:
    """One call to simulate: its index (which fixes its random stream), plan and profile."""

    index: int
    plan: CallPlan
    profile: Profile
    repeat: int = 0
    prefix: str = ""  # makes session ids unique across an experiment's configs


async def _run_call(runner: AgentRunner, call: _Call, seed: int, strict: bool,
                    max_call_s: float, grace_s: float, sink: list,
                    recorders: list, conversation: Any = None) -> CallResult:
    loop = asyncio.get_running_loop()
    pipeline, index = runner.pipeline, call.index
    rng = np.random.default_rng([seed, index])
    session = Session(session_id=f"{call.prefix}{runner.agent_id}-{seed}-{index}",
                      pipeline=pipeline, strict=strict)
    setup = call.plan.call
    ctx = CallContext(call_id=f"call-{seed}-{index}", session_id=session.session_id,
                      agent_id=runner.agent_id,
                      user_number=setup.user_number or f"+1555{index:07d}",
                      direction=setup.direction, session=session)
    clock_start_us = loop.time_us() if hasattr(loop, "time_us") else None
    clock_ms = _call_clock_ms(loop, clock_start_us)
    bus = session.make_bus(context=ctx, extra=[runner.hook_registry, runner.hooks,
                                               runner.session_hooks],
                           clock_ms=clock_ms)
    bus.set_clock(clock_ms)  # the session clock starts when the call is dispatched
    bus.subscribe(sink.append, rows=True)
    for rec in recorders:
        rec.label(session.session_id, scenario_id=call.plan.scenario_id or None, seed=seed,
                  call_index=index, repeat=call.repeat)
        bus.subscribe(getattr(rec, "take", rec))  # a Recorder takes rows; any callable gets events
    conv = (conversation or Conversation)(
        session, call.plan, call.profile, rng,
        stt=simulated(pipeline.stt, STT),
        llm=simulated(pipeline.llm, LLM),
        tts=simulated(pipeline.tts, TTS),
        vad_silence_ms=getattr(getattr(pipeline, "vad", None), "silence_ms", None),
        **turn_taking_of(pipeline),
        silence_timeout_ms=getattr(pipeline, "options", {}).get("silence_timeout_ms", 8000.0),
        tools=runner.tools,
    )
    session.conversation = conv
    try:
        await play_call(runner, ctx, conv, strict, max_call_s, grace_s)
    finally:
        release_frames(sink)
    return CallResult(session.session_id, index, conv.final_state, conv.ending or "",
                      conv.spoken, session, call.plan.scenario_id, call.repeat)


def _call_clock_ms(loop: asyncio.AbstractEventLoop, start_us: int | None):
    """The call's clock in ms from now. On virtual time (``start_us``, the loop's
    microsecond now) it subtracts whole microseconds, so a call's instants are the same
    bits whenever it starts (determinism across executors and concurrency)."""
    if start_us is None:
        start = loop.time()
        return lambda: (loop.time() - start) * 1000.0
    return loop.ms_since(start_us)


def _script_for(script: Any) -> list[CallerTurn]:
    if script is None:
        script = DEFAULT_SCRIPT
    if isinstance(script, str):
        raise ConfigError("script= takes a list of caller turns (strings or dicts with "
                          "'text'), not a single string; wrap it in a list.")
    try:
        return [CallerTurn.coerce(t) for t in script]
    except TypeError as err:
        raise ConfigError(f"script=: each caller turn is a string or a dict with 'text' and "
                          f"optional 'pause_ms', 'barge_in_ms', 'words_per_s' ({err}).") from err


def _plan_calls(runner: AgentRunner, script: Any, scenarios: Any, calls: int | None,
                repeats: int, profile: Any, call: Any = None) -> list[_Call]:
    """The calls to run, in order: each scenario ``repeats`` times, or ``calls`` copies of
    one script. The profile is the one asked for, else the scenario's, else the
    pipeline's, else the default. ``call`` (a CallSetup, or one per call) places them
    (outbound, the number dialled, the answer) instead of the scenarios' own."""
    profile_for = profile_resolver(runner, profile)
    if scenarios is None:
        # a plain script is played as written: no improvised follow-up answers
        plan = CallPlan(_script_for(script), Persona(max_follow_ups=0))
        todo = [_Call(i, plan, profile_for(plan)) for i in range(1 if calls is None else calls)]
    else:
        if script is not None or calls is not None:
            raise ConfigError("give either script= (with calls=) or scenarios= (with "
                              "repeats=), not both.")
        plans = [CallPlan.from_scenario(s) for s in _scenarios(scenarios)]
        todo = [_Call(i * repeats + r, plan, profile_for(plan), r)
                for i, plan in enumerate(plans) for r in range(repeats)]
    return todo if call is None else placed_calls(todo, call)


def placed_calls(todo: list[_Call], call: Any) -> list[_Call]:
    setups = list(call) if isinstance(call, (list, tuple)) else [call] * len(todo)
    if len(setups) != len(todo) or not all(isinstance(c, CallSetup) for c in setups):
        raise ConfigError(f"call= takes an al.Outbound(...) / al.CallSetup for every call, "
                          f"or a list of {len(todo)} (one per call), got {call!r}.")
    return [replace(c, plan=replace(c.plan, call=setup))
            for c, setup in zip(todo, setups, strict=True)]


def profile_resolver(runner: AgentRunner, profile: Any):
    """plan -> Profile: the one asked for, else the scenario's, else the pipeline's
    ``profile=`` option, else the default (each loaded once)."""
    fallback = getattr(runner.pipeline, "options", {}).get("profile") or DEFAULT_PROFILE
    components = pipeline_components(runner.pipeline)
    profiles: dict[Any, Profile] = {}

    def profile_for(plan: CallPlan) -> Profile:
        key = profile if profile is not None else (plan.profile or fallback)
        if isinstance(key, (dict, Profile)):
            return compose_profile(load_profile(key), components)
        if key not in profiles:  # the provider plugins' stages on top (agentlab.plugins)
            profiles[key] = compose_profile(load_profile(key), components)
        return profiles[key]

    return profile_for


def _scenarios(value: Any) -> list[Scenario]:
    from ..scenarios import load

    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[Scenario] = []
    for item in items:
        found = item if isinstance(item, Scenario) else load(item)
        out.extend(found if isinstance(found, list) else [found])
    if not out:
        raise ConfigError("scenarios= is empty; pass scenarios, their ids, or a dataset name.")
    return out


async def _simulate(runner: AgentRunner, todo: list[_Call], seed: int, strict: bool,
                    max_call_s: float, grace_s: float, concurrency: int,
                    recorder: Any = None) -> Simulation:
    recorders = recorders_of(runner, recorder)
    todo = distinct_sessions(todo, recorders)
    sinks: list[list] = [[] for _ in todo]
    results: list[CallResult | None] = [None] * len(todo)
    pending = iter(range(len(todo)))

    with finished_calls_skip_gc() as call_finished:
        async def worker() -> None:
            for i in pending:
                results[i] = await _run_call(runner, todo[i], seed, strict, max_call_s,
                                             grace_s, sinks[i], recorders)
                call_finished()

        # One call at a time is fastest on virtual time: with no other call's timers in
        # the way, a call's stage waits become plain clock moves (VirtualTimeLoop.advance).
        # More at once only helps hooks that wait on threads or real I/O. Results are
        # identical.
        try:
            await asyncio.gather(*(worker() for _ in range(min(len(todo), concurrency))))
        finally:  # a cancelled run keeps what its calls recorded, the last one closed too
            for rec in recorders:
                rec.flush()
    return Simulation([r for sink in sinks for r in sink], list(results), seed, recorder)


def recorders_of(runner: AgentRunner, recorder: Any) -> list:
    """The runner's recorders and ``recorder``, each once (one attached to the runner and
    also passed records every event once)."""
    return [*runner.recorders, *([recorder] if recorder is not None and
                                 recorder not in runner.recorders else [])]


def distinct_sessions(todo: list[_Call], recorders: list) -> list[_Call]:
    """A run recorded where an earlier run was gets session ids of its own (``r2:...``):
    same agent, same seed would otherwise give both runs' calls the same ids."""
    n = max((rec.begin_run() for rec in recorders), default=1)
    return todo if n <= 1 else [replace(c, prefix=f"r{n}:{c.prefix}") for c in todo]


def as_runner(target: Any) -> Any:
    """An entrypoint function (``async def entrypoint(ctx)``, VideoSDK's shape) runs as a
    runner of its own; anything else is checked by ``_check``."""
    if inspect.iscoroutinefunction(target):
        return AgentRunner(entrypoint=target)
    return target


def _check(runner: Any, calls: int | None, repeats: int, concurrency: int) -> None:
    if not isinstance(runner, AgentRunner):
        raise ConfigError(f"simulate() takes an al.AgentRunner or an entrypoint (async def "
                          f"entrypoint(ctx)), got {type(runner).__name__}.")
    for name, value in (("calls", calls), ("repeats", repeats), ("concurrency", concurrency)):
        if (value is not None or name == "repeats") and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ConfigError(f"{name} must be an int >= 1, got {value!r}.")


def check_run(seed: Any, max_call_s: Any, grace_s: Any) -> None:
    """The run's seed and limits, before any call runs."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}.")
    for name, value in (("max_call_s", max_call_s), ("grace_s", grace_s)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or \
                not value > 0 or value == float("inf"):
            raise ConfigError(f"{name} must be a number of seconds > 0, got {value!r}.")


_DOC = """Simulate calls through ``runner`` on virtual time.

    Parameters
    ----------
    script: caller turns (strings or dicts with ``text``, ``pause_ms``, ``barge_in_ms``,
        ``words_per_s``) played ``calls`` times; a short order-status call by default.
    scenarios: instead of a script: scenarios (``al.datasets.load(...)``), their ids, a
        dataset name or a file, each played ``repeats`` times.
    seed: call ``i`` draws from ``numpy.random.default_rng([seed, i])``, so a seed fixes
        every event, field for field.
    profile: a bundled latency profile name (``al.available_profiles()``), a JSON path, a
        dict or a Profile; a ``speech-to-speech`` profile runs realtime-model turns.
        Default: the scenario's, else the pipeline's ``profile=`` option, else
        ``deepgram-gpt4o-cartesia-webrtc``.
    strict: re-raise hook exceptions instead of recording them as ``error`` events.
    max_call_s, grace_s: virtual-time limit per call; how long an entrypoint may run on
        after its session ended before it is cancelled.
    concurrency: calls run at once; 1 is fastest, raise it when hooks wait on threads or
        real I/O. Results do not depend on it.
    recorder: an ``al.Recorder`` that records every event into tables (recorders
        attached to the runner record too).
    call: how the calls are placed: ``al.Outbound("+15551234567", answer="voicemail")``
        (answered, no_answer, busy, voicemail; ``ring_ms``), or a list with one per call.
        Default: each scenario's ``call:`` block, else inbound.
    """


def simulate_sync(runner: AgentRunner, script: Iterable | None = None, *,
                  scenarios: Any = None, calls: int | None = None, repeats: int = 1,
                  seed: int = 0, profile: Any = None, strict: bool = False,
                  max_call_s: float = 1800.0, grace_s: float = 5.0,
                  concurrency: int = 1, recorder: Any = None, call: Any = None) -> Simulation:
    """For scripts and tests; in a notebook use ``await al.simulate(...)``.

    Example
    -------
    >>> import agentlab as al
    >>> async def handle_call(ctx): await ctx.session.run()
    >>> runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
    >>> sim = al.simulate_sync(runner, ["Hello there."], seed=1)
    >>> sim.calls[0].final_state
    'ended'
    """
    runner = as_runner(runner)
    _check(runner, calls, repeats, concurrency)
    check_run(seed, max_call_s, grace_s)
    todo = _plan_calls(runner, script, scenarios, calls, repeats, profile, call)
    if _loop_running():
        raise AgentlabError("simulate_sync() cannot run inside a running event loop (a "
                            "notebook cell): use `await al.simulate(...)` there.")
    # outside the except block: a failure in the run must not chain 'no running event loop'
    return run_virtual(_simulate(runner, todo, seed, strict, max_call_s, grace_s,
                                 concurrency, recorder))


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def simulate(runner: AgentRunner, script: Iterable | None = None, *,
                   scenarios: Any = None, calls: int | None = None, repeats: int = 1,
                   seed: int = 0, profile: Any = None, strict: bool = False,
                   max_call_s: float = 1800.0, grace_s: float = 5.0,
                   concurrency: int = 1, recorder: Any = None, call: Any = None) -> Simulation:
    """``await al.simulate(...)`` from a running loop (Jupyter): the virtual loop runs in a
    worker thread; cancelling the cell stops it promptly."""
    runner = as_runner(runner)
    _check(runner, calls, repeats, concurrency)
    check_run(seed, max_call_s, grace_s)
    todo = _plan_calls(runner, script, scenarios, calls, repeats, profile, call)
    return await run_in_thread(lambda: _simulate(runner, todo, seed, strict, max_call_s,
                                                 grace_s, concurrency, recorder))


simulate_sync.__doc__ = _DOC + simulate_sync.__doc__
simulate.__doc__ = simulate.__doc__ + "\n\n    " + _DOC

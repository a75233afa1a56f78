"""``al.Experiment``: compare hook configurations on the same calls.

A *config* is a named way to build the agent: a function that receives a fresh
``al.AgentRunner`` (default entrypoint, empty ``al.Pipeline``) and registers hooks,
tools or settings on it (returning nothing, or a replacement runner), or a function of no
arguments that returns a runner. Every config plays the same scenarios with the same
seeds (a paired design), so differences are the configs' doing.

Example
-------
>>> import agentlab as al
>>> def baseline(runner): pass
>>> def crm(runner):
...     @runner.pipeline.on("user_turn_start")
...     async def lookup(text):
...         import asyncio; await asyncio.sleep(0.08)
>>> exp = al.Experiment(configs=[baseline, crm], scenarios="agent-ends-call", repeats=2)
>>> result = exp.run(progress=False)
>>> sorted(result.turns.config.unique())
['baseline', 'crm']
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentlabError, ConfigError
from ..recorder import Recorder
from ..runtime.runner import AgentRunner
from . import executors

DEFAULT_BATCH = 100  # calls per task (REFERENCE §4: batch for every engine)


@dataclass(frozen=True)
class Config:
    """A named agent configuration; ``profile`` overrides the latency profile."""

    name: str
    build: Callable[..., Any]
    profile: str | None = None

    def check(self) -> None:
        """Build this config's runner once, so a bad config (wrong shape, a typo'd hook
        name, an exception) is reported before any call runs, naming the config."""
        required = [p for p in _parameters(self.build) if p.default is p.empty and
                    p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(required) > 1:
            raise ConfigError(f"config {self.name!r} takes {len(required)} parameters "
                              f"({', '.join(p.name for p in required)}); a config takes the "
                              f"runner it decorates (one parameter), or none and returns a "
                              f"runner.")
        try:
            self.runner()
        except AgentlabError as err:
            raise type(err)(f"config {self.name!r}: {err}") from err
        except Exception as err:
            raise ConfigError(f"config {self.name!r} raised while building its runner: "
                              f"{type(err).__name__}: {err}") from err

    def runner(self) -> AgentRunner:
        """A fresh runner built by this config (called once per batch, in the worker)."""
        params = _parameters(self.build)
        if not params:
            built = self.build()
        else:
            base = AgentRunner(entrypoint=_run_session, agent_id="agent",
                               pipeline=_pipeline())
            built = self.build(base)
            built = base if built is None else built
        if not isinstance(built, AgentRunner):
            raise ConfigError(f"config {self.name!r} must return an al.AgentRunner (or "
                              f"decorate the runner it is given), got "
                              f"{type(built).__name__}.")
        return built


def _parameters(build: Callable) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(build).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: treat as one-arg
        return [inspect.Parameter("runner", inspect.Parameter.POSITIONAL_ONLY)]


async def _run_session(ctx: Any) -> None:
    await ctx.session.run()


def _pipeline() -> Any:
    from ..runtime.pipeline import Pipeline

    return Pipeline()


def as_configs(configs: Any) -> list[Config]:
    if isinstance(configs, dict):
        items = []
        for k, c in configs.items():
            if not (isinstance(c, Config) or callable(c)):
                raise ConfigError(f"config {k!r} is {type(c).__name__} ({c!r}); a config is "
                                  f"a function that decorates the runner it is given.")
            items.append(c if isinstance(c, Config) else Config(str(k), c))
    elif callable(configs) or isinstance(configs, Config):
        items = [_one(configs)]
    elif isinstance(configs, Iterable):
        items = [_one(c) for c in configs]
    else:
        raise ConfigError(f"configs= takes functions, Configs or a dict name -> function, "
                          f"got {type(configs).__name__}.")
    if not items:
        raise ConfigError("configs= is empty; give at least one config.")
    names = [c.name for c in items]
    if len(set(names)) != len(names):
        raise ConfigError(f"config names must be unique, got {names}.")
    return items


def _one(c: Any) -> Config:
    if isinstance(c, Config):
        return c
    if not callable(c):
        raise ConfigError(f"a config is a function or al.Config, got {type(c).__name__} "
                          f"({c!r}).")
    return Config(getattr(c, "__name__", "config"), c)


@dataclass
class Experiment:
    """Run ``configs`` x ``scenarios`` x ``repeats`` simulated calls and record them.

    ``run(executor=...)`` returns one :class:`~agentlab.Recorder` whose tables carry a
    ``config`` column. Executors: ``None`` (in this process), ``"processes"`` or a
    ``concurrent.futures.ProcessPoolExecutor`` (local cores), or a
    ``distributed.Client`` (Dask). Results are identical whatever runs them.
    """

    configs: Any
    scenarios: Any = "scenarios"
    repeats: int = 1
    seed: int = 0
    profile: str | None = None
    batch_size: int = DEFAULT_BATCH
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        # everything is checked here, before any call runs: a mistake in the last config
        # must not cost the first config's calls
        self.configs = as_configs(self.configs)
        from ..components import load_profile
        from ..runtime.simulate import _scenarios

        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or \
                self.repeats < 1:
            raise ConfigError(f"repeats must be an int >= 1, got {self.repeats!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an int >= 0, got {self.seed!r}.")
        self.scenario_list = _scenarios(self.scenarios)
        for profile in [self.profile, *(c.profile for c in self.configs)]:
            if profile is not None:  # a name, a path, a dict or a Profile
                load_profile(profile)
        for config in self.configs:
            config.check()

    @property
    def calls_per_config(self) -> int:
        return len(self.scenario_list) * self.repeats

    def tasks(self) -> list[executors.Task]:
        """The work, in a fixed order: per config, batches of consecutive call indices."""
        n, size, r = self.calls_per_config, max(1, self.batch_size), self.repeats
        # each task carries only the scenarios its calls play (call k plays k // repeats)
        return [executors.Task(i, c, self.scenario_list[start // r:(stop - 1) // r + 1],
                               start // r, r, self.seed, self.profile or c.profile, start, stop)
                for i, c in enumerate(self.configs) for start in range(0, n, size)
                for stop in [min(n, start + size)]]

    def stop(self) -> None:
        """Ask a running ``run()`` to stop after the batches under way (thread-safe)."""
        self._stop.set()

    def run(self, executor: Any = None, *, progress: bool = True, workers: int | None = None,
            run_id: str | None = None, on_batch: Callable[[int, int], Any] | None = None
            ) -> Recorder:
        """Run every call; the returned recorder's ``complete`` says whether all ran
        (``stop()``, Ctrl-C or a cancelled cell keep the finished batches)."""
        self._stop.clear()
        return executors.run(self, executor, progress=progress, workers=workers,
                             run_id=run_id, on_batch=on_batch)

    def __repr__(self) -> str:
        return (f"Experiment({[c.name for c in self.configs]}, "
                f"{len(self.scenario_list)} scenarios x {self.repeats} repeats, "
                f"seed={self.seed})")

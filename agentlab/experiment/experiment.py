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

from ..errors import ConfigError
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

    def runner(self) -> AgentRunner:
        """A fresh runner built by this config (called once per batch, in the worker)."""
        params = inspect.signature(self.build).parameters
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


async def _run_session(ctx: Any) -> None:
    await ctx.session.run()


def _pipeline() -> Any:
    from ..runtime.pipeline import Pipeline

    return Pipeline()


def as_configs(configs: Any) -> list[Config]:
    if isinstance(configs, dict):
        items = [c if isinstance(c, Config) else Config(str(k), c) for k, c in configs.items()]
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
        raise ConfigError(f"a config is a function or al.Config, got {type(c).__name__}.")
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
        self.configs = as_configs(self.configs)
        from ..runtime.simulate import _scenarios

        self.scenario_list = _scenarios(self.scenarios)
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise ConfigError(f"repeats must be an int >= 1, got {self.repeats!r}.")

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

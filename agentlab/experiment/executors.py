"""Running an experiment's batches: in this process, on a local process pool, or on Dask.

Each task is one config and a batch of consecutive call indices (~100 calls: REFERENCE §4
measured that batching is what makes every engine fast). A task is shipped as a
cloudpickle blob, so configs defined in a notebook cell (or a test file) travel by value.
Results come back as exported recorders and are merged *in task order*, so the tables do
not depend on the executor or on which task finished first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import os
import sys
from dataclasses import dataclass, replace
from typing import Any

import cloudpickle

from ..errors import ConfigError
from ..recorder import Recorder


@dataclass(frozen=True)
class Task:
    index: int
    config: Any
    scenarios: list   # the scenarios this task's calls play ...
    first: int        # ... starting with scenario number ``first`` of the experiment
    repeats: int
    seed: int
    profile: str | None
    start: int        # first call index (inclusive)
    stop: int         # last call index (exclusive)

    @property
    def calls(self) -> int:
        return self.stop - self.start


def run_task(task: Task) -> dict[str, Any]:
    """Simulate one task's calls on a fresh virtual loop; the exported recorder."""
    from ..clock import run_virtual
    from ..runtime.simulate import _plan_calls, _simulate

    try:
        runner = task.config.runner()
    except Exception as err:  # the config's error row; the other configs' calls still run
        return _failed_task(task, err)
    offset = task.first * task.repeats  # call numbers are the experiment's, not the task's
    todo = [replace(c, index=c.index + offset, prefix=f"{task.config.name}:")
            for c in _plan_calls(runner, None, task.scenarios, None, task.repeats,
                                 task.profile)
            if task.start <= c.index + offset < task.stop]
    rec = Recorder(config=task.config.name)
    run_virtual(_simulate(runner, todo, task.seed, False, 1800.0, 5.0, 1, rec))
    return rec.export()


def _failed_task(task: Task, err: Exception) -> dict[str, Any]:
    """A task whose config failed to build its runner: no calls, one ``error`` row (under
    the config's name, component ``config``) saying so."""
    from .. import events as ev

    rec = Recorder(config=task.config.name)
    sid = f"{task.config.name}:not-run-{task.start}"
    rec.label(sid, config=task.config.name, seed=task.seed)
    rec(ev.Error(sid, 0, 1, 0.0, "config", f"config {task.config.name!r} raised while "
                 f"building its runner for calls {task.start}-{task.stop - 1}, which did "
                 f"not run: {type(err).__name__}: {err}", type(err).__name__, "", "fatal",
                 err))
    part = rec.export()
    part["not_run"] = task.calls
    return part


def run_blob(blob: bytes) -> dict[str, Any]:
    """The process-pool / Dask entry point: unpickle a task and run it."""
    return run_task(cloudpickle.loads(blob))


def _blob(task: Task) -> bytes:
    _by_value(task.config.build)
    return cloudpickle.dumps(task)


def _by_value(fn: Any) -> None:
    """Ship code that workers cannot import (a notebook cell, a test file) by value."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or module.__name__.startswith(
            "agentlab"):
        return  # __main__ is pickled by value anyway; agentlab is importable
    path = getattr(module, "__file__", "") or ""
    if "site-packages" not in path:
        cloudpickle.register_pickle_by_value(module)


def run(exp: Any, executor: Any, *, progress: bool, workers: int | None, run_id: str | None,
        on_batch: Any) -> Recorder:
    from tqdm.auto import tqdm

    tasks = exp.tasks()
    total = sum(t.calls for t in tasks)
    results: dict[int, dict] = {}
    bar = tqdm(total=total, unit="call", disable=not progress, desc="simulating")
    complete = True
    try:
        for i, part in _dispatch(exp, tasks, executor, workers):
            results[i] = part
            bar.update(tasks[i].calls)
            if on_batch is not None:
                on_batch(len(results), len(tasks))
    except (KeyboardInterrupt, asyncio.CancelledError, _Stopped):
        complete = False
    finally:
        bar.close()
    parts = [results[i] for i in sorted(results)]
    rec = Recorder.merge(parts, run_id=run_id)
    not_run = sum(p.get("not_run", 0) for p in parts)
    rec.complete = complete and len(parts) == len(tasks) and not not_run
    rec.calls_total = total
    rec.calls_done = sum(t.calls for i, t in enumerate(tasks) if i in results) - not_run
    return rec


class _Stopped(Exception):
    pass


def _dispatch(exp: Any, tasks: list[Task], executor: Any, workers: int | None):
    """Yield (task number, exported part) as tasks finish; raise _Stopped on stop()."""
    kind = _kind(executor)
    if kind == "inprocess":
        for i, task in enumerate(tasks):
            if exp._stop.is_set():
                raise _Stopped
            yield i, _in_this_process(task)
        return
    if kind == "dask":
        yield from _dask(exp, tasks, executor)
        return
    if multiprocessing.parent_process() is not None and \
            getattr(sys.modules.get("__main__"), "__name__", "") == "__mp_main__":
        raise ConfigError(_MAIN_GUARD)  # a worker re-running the script's top level
    own = not isinstance(executor, cf.Executor)
    pool = executor if not own else cf.ProcessPoolExecutor(
        max_workers=workers or (executor if isinstance(executor, int) else os.cpu_count()),
        mp_context=multiprocessing.get_context("forkserver"))
    futures = {pool.submit(run_blob, _blob(t)): i for i, t in enumerate(tasks)}
    try:
        for fut in cf.as_completed(futures):
            if exp._stop.is_set():
                raise _Stopped
            try:
                part = fut.result()
            except cf.process.BrokenProcessPool:
                raise ConfigError(f"a worker process died before it could run a batch. "
                                  f"{_MAIN_GUARD}") from None
            yield futures[fut], part
    finally:
        for fut in futures:
            fut.cancel()
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


_MAIN_GUARD = ("Worker processes import the script that started them, so a script that "
               "runs exp.run('processes') (or a pool) at its top level starts it again in "
               "every worker: put that code under `if __name__ == \"__main__\":` (a "
               "notebook needs nothing).")


def _dask(exp: Any, tasks: list[Task], client: Any):
    from distributed import as_completed

    futures = [client.submit(run_blob, _blob(t), pure=False) for t in tasks]
    number = {f.key: i for i, f in enumerate(futures)}
    try:
        for fut in as_completed(futures):
            if exp._stop.is_set():
                raise _Stopped
            yield number[fut.key], fut.result()
    finally:
        client.cancel([f for f in futures if not f.done()])


def _kind(executor: Any) -> str:
    if executor is None or executor == "inprocess":
        return "inprocess"
    if executor == "processes" or isinstance(executor, (int, cf.ProcessPoolExecutor)):
        return "processes"
    if type(executor).__module__.startswith("distributed"):
        return "dask"
    if isinstance(executor, cf.Executor):
        return "processes"
    raise ConfigError(f"executor= takes None (this process), 'processes', a worker count, a "
                      f"concurrent.futures executor or a distributed.Client; got "
                      f"{executor!r}.")


def _in_this_process(task: Task) -> dict[str, Any]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_task(task)
    # a notebook cell: the virtual loop cannot run on the kernel's loop thread
    with cf.ThreadPoolExecutor(1) as pool:
        return pool.submit(run_task, task).result()

"""``python -m agentlab``: demo, simulate, compare, report.

Exit codes: 0 ok; 1 a regression was found (``compare --fail-on-regression``), and nothing
else; 2 bad usage or input, explained in one line on stderr (checked before any work
starts); 3 an unexpected internal error (its traceback follows, to report).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import traceback
from pathlib import Path
from typing import Any

from .errors import AgentlabError

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
_DASK_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://\S+$|^[\w.\-]+:\d+$")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenarios", default="scenarios", metavar="NAME_OR_PATH",
                   help="a dataset name, a scenario id, or a YAML/JSON file or folder "
                        "(default: the bundled 'scenarios')")
    p.add_argument("--profile", default=None, help="latency profile (default: each "
                   "scenario's, else deepgram-gpt4o-cartesia-webrtc)")
    p.add_argument("--repeats", type=int, default=1, help="calls per scenario (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--executor", default="inprocess",
                   help="inprocess (default), processes, or a Dask scheduler address")
    p.add_argument("--workers", type=int, default=None, help="processes for --executor "
                   "processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parser() -> argparse.ArgumentParser:
    from . import __version__

    top = _Parser(prog="python -m agentlab",
                  description="Prototype voice-agent hooks and measure what they do.")
    top.add_argument("--version", action="version", version=f"agentlab {__version__}",
                     help="print the version and exit")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser,
                             help="what to run (each has its own --help)")
    demo = sub.add_parser("demo", help="compare three hook configurations on the bundled "
                          "scenarios, print the comparison, write a report to out/")
    demo.add_argument("--out", default="out", help="report folder (default out/)")
    demo.add_argument("--repeats", type=int, default=3,
                      help="calls per scenario and config (default 3)")
    sim = sub.add_parser("simulate", help="simulate scenarios; write Parquet tables")
    _common(sim)
    sim.add_argument("--out", required=True, help="output folder for the Parquet tables")
    cmp = sub.add_parser("compare", help="compare configs from a Python file; write a "
                         "report")
    cmp.add_argument("configs", help="a .py file defining CONFIGS = {name: function} "
                     "(each function decorates the runner it is given)")
    _common(cmp)
    cmp.add_argument("--baseline", default=None, help="config to compare against "
                     "(default: the first)")
    cmp.add_argument("--out", default="out", help="report folder (default out/)")
    cmp.add_argument("--threshold-ms", type=float, default=50.0,
                     help="a segment regressed if its CI lies above this (default 50)")
    cmp.add_argument("--fail-on-regression", action="store_true",
                     help="exit 1 if any config regressed against the baseline")
    rep = sub.add_parser("report", help="write a report from saved runs")
    rep.add_argument("runs", nargs="+", help="run folders written by simulate/compare")
    rep.add_argument("--out", default="out", help="report folder (default out/)")
    rep.add_argument("--baseline", default=None, help="config to compare against "
                     "(default: the first)")
    sub.add_parser("nbval-sanitize", help="print the path of the nbval sanitize file "
                   "agentlab ships (pytest --nbval-lax --nbval-sanitize-with \"$(python -m "
                   "agentlab nbval-sanitize)\" notebooks/)")
    return top


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (AgentlabError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # never exit 1 (the regression signal) for a crash
        traceback.print_exc()
        print("error: agentlab hit an unexpected internal error (traceback above); please "
              "report it", file=sys.stderr)
        return EXIT_INTERNAL


def _executor(args: Any) -> Any:
    if args.executor in ("inprocess", "processes"):
        return None if args.executor == "inprocess" else "processes"
    if not _DASK_ADDRESS.match(args.executor):
        raise UsageError(f"--executor {args.executor!r}: use inprocess, processes, or a "
                         f"Dask scheduler address such as tcp://127.0.0.1:8786")
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--executor with a Dask address needs: pip install "
                         "'agentlab[dask]'") from None
    try:
        return Client(args.executor, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise UsageError(f"--executor {args.executor!r}: no Dask scheduler answered there "
                         f"({type(err).__name__}); start one (dask scheduler) or use "
                         f"--executor processes") from None


def _check_counts(args: Any) -> None:
    for name in ("repeats", "workers"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be >= 1, got {value}")


def _check_out(args: Any) -> Path:
    """The --out folder, created now: a folder that cannot be written is reported before
    any call runs."""
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".agentlab-write-check"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UsageError(f"--out {args.out}: cannot write there ({err.strerror}); pass a "
                         f"folder you can write to") from None
    return out


def _check_profile(args: Any) -> None:
    if args.profile is not None:
        from .components import load_profile

        load_profile(args.profile)  # ConfigError lists the bundled names


def cmd_simulate(args: Any) -> int:
    import agentlab as al

    _check_counts(args)
    _check_profile(args)
    out = _check_out(args)
    exp = al.Experiment(configs={"default": lambda runner: None}, scenarios=args.scenarios,
                        repeats=args.repeats, seed=args.seed, profile=args.profile)
    rec = exp.run(_executor(args), progress=not args.quiet, workers=args.workers)
    rec.save(out / "run")
    for name in ("events", "turns", "segments", "tools", "hooks", "errors", "sessions",
                 "usage"):
        getattr(rec, name).to_parquet(out / f"{name}.parquet", index=False)
    print(f"{len(rec.sessions)} calls, {len(rec.turns)} turns -> {out}/ "
          f"(tables as <name>.parquet; the run in {out}/run)")
    return EXIT_OK


def load_configs(path: str) -> dict[str, Any]:
    file = Path(path)
    if file.suffix != ".py" or not file.exists():
        raise UsageError(f"configs must be an existing .py file, got {path!r}")
    spec = importlib.util.spec_from_file_location(f"agentlab_configs_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise UsageError(f"{path}: failed to import ({type(err).__name__}: {err})") from None
    configs = getattr(module, "CONFIGS", None)
    if not configs:
        raise UsageError(f"{path}: define CONFIGS = {{'name': function, ...}} (each function "
                         f"receives an al.AgentRunner to decorate)")
    if not isinstance(configs, dict):
        raise UsageError(f"{path}: CONFIGS must be a dict name -> function, got "
                         f"{type(configs).__name__}")
    for name, build in configs.items():
        if not callable(build):
            raise UsageError(f"{path}: CONFIGS[{name!r}] is {type(build).__name__} "
                             f"({build!r}); make it a function that takes the runner to "
                             f"decorate")
    return configs


def cmd_compare(args: Any) -> int:
    import agentlab as al

    _check_counts(args)
    _check_profile(args)
    configs = load_configs(args.configs)
    _check_out(args)
    exp = al.Experiment(configs=configs, scenarios=args.scenarios, repeats=args.repeats,
                        seed=args.seed, profile=args.profile)
    names = [c.name for c in exp.configs]
    if args.baseline is not None and args.baseline not in names:
        raise UsageError(f"--baseline {args.baseline!r} is not one of {', '.join(names)}")
    rec = exp.run(_executor(args), progress=not args.quiet, workers=args.workers)
    rec.save(Path(args.out) / "run")
    return _report_and_verdict(rec, args.out, args.baseline or names[0], args.threshold_ms,
                               args.fail_on_regression)


def _report_and_verdict(rec: Any, out: str, baseline: str, threshold_ms: float,
                        fail: bool) -> int:
    from . import report

    folder = report.write(rec, out, baseline=baseline, threshold_ms=threshold_ms)
    print_comparison(rec, baseline)
    regressions = _read_regressions(folder)
    if len(regressions):
        print(f"\nregressions beyond {threshold_ms:g} ms vs {baseline}:")
        print(regressions.to_string(index=False, float_format=lambda v: f"{v:.0f}"))
    print(f"\nreport: {folder / 'index.html'}")
    return EXIT_REGRESSION if fail and len(regressions) else EXIT_OK


def _read_regressions(folder: Path):
    import pandas as pd

    try:
        return pd.read_csv(folder / "regressions.csv")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def print_comparison(rec: Any, baseline: str) -> None:
    """Mean and p50 of every non-zero segment per config, side by side."""
    import agentlab as al

    turns = rec.turns
    summary = al.analysis.summary(turns, by="config")
    table = summary.pivot_table(index="metric", columns="config", values=["mean", "p50"],
                                sort=False, observed=True)
    table = table[(table.abs() > 0.05).any(axis=1)]
    table.index = [m.removeprefix("seg_").removesuffix("_ms") for m in table.index]
    print(f"latency per turn (ms) by config, {len(turns)} turns (the baseline is "
          f"{baseline!r}):")
    print(table.round(0).to_string())


def cmd_report(args: Any) -> int:
    import agentlab as al

    _check_out(args)
    for p in args.runs:
        if not Path(p).is_dir():
            raise UsageError(f"run folder {p!r} does not exist; pass folders written by "
                             f"simulate --out or compare --out")

    recs = [al.Recorder.load(_run_folder(Path(p))) for p in args.runs]
    rec = recs[0] if len(recs) == 1 else al.Recorder.merge([r.export() for r in recs])
    configs = [str(c) for c in rec.turns["config"].astype(str).unique()]
    baseline = args.baseline or (configs[0] if configs else None)
    if args.baseline is not None and args.baseline not in configs:
        raise UsageError(f"--baseline {args.baseline!r} is not one of {', '.join(configs)}")
    return _report_and_verdict(rec, args.out, baseline, 50.0, False)


def _run_folder(path: Path) -> Path:
    return path / "run" if (path / "run" / "run.json").exists() else path


def cmd_demo(args: Any) -> int:
    from .demo import run

    _check_counts(args)
    _check_out(args)
    return run(out=args.out, repeats=args.repeats)


def cmd_nbval_sanitize(args: Any) -> int:
    print(Path(__file__).with_name("nbval_sanitize.cfg"))
    return EXIT_OK


COMMANDS = {"demo": cmd_demo, "simulate": cmd_simulate, "compare": cmd_compare,
            "report": cmd_report, "nbval-sanitize": cmd_nbval_sanitize}

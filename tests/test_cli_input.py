"""The command line: exit 2 and one line for every bad input, checked before any work."""

import subprocess
import sys

import pytest

from agentlab import __version__
from agentlab.cli import parser

TYPO_IN_SECOND = '''
def baseline(runner):
    pass

def crm(runner):
    @runner.pipeline.on("user_trun_start")
    async def lookup(text):
        pass

CONFIGS = {"baseline": baseline, "crm": crm}
'''


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "agentlab", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "int_config.py").write_text('CONFIGS = {"baseline": 42}\n')
    (tmp_path / "typo.py").write_text(TYPO_IN_SECOND)
    (tmp_path / "two_params.py").write_text("def c(runner, other): pass\n"
                                            "CONFIGS = {'c': c}\n")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["compare", "int_config.py"], "CONFIGS['baseline'] is int (42); make it a function"),
    (["compare", "typo.py"], "config 'crm': Unknown hook 'user_trun_start'"),
    (["compare", "two_params.py"], "config 'c' takes 2 parameters (runner, other)"),
    (["simulate", "--out", "x", "--executor", "bogus"],
     "--executor 'bogus': use inprocess, processes, or a Dask scheduler address"),
    (["simulate", "--out", "/proc/forbidden"], "--out /proc/forbidden: cannot write there"),
    (["simulate", "--out", "x", "--scenarios", "./no-such-folder"],
     "./no-such-folder: no such file or folder"),
    (["simulate", "--out", "x", "--scenarios", "empty"],
     "empty: the folder has no scenario files"),
    (["simulate", "--out", "x", "--profile", "fastest"], "no latency profile 'fastest'; bundled profiles:"),
    (["demo", "--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["report", "no-such-run"], "run folder 'no-such-run' does not exist"),
])
def test_bad_input_exits_2_with_one_line_before_any_work(files, args, message):
    res = cli(*args, cwd=files)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert res.stdout == ""  # nothing ran: no progress, no tables, no report


def test_version():
    res = subprocess.run([sys.executable, "-m", "agentlab", "--version"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == f"agentlab {__version__}"


def test_every_option_has_help_text():
    top = parser()
    commands = next(a for a in top._actions if a.dest == "command").choices
    for name, sub in {"": top, **commands}.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"

"""The package works when installed as a wheel: datasets and profiles ship inside it."""

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_install_runs_the_demo_and_loads_bundled_data(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "-w", str(dist), str(ROOT)], check=True)
    wheel = next(dist.glob("agentlab-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", str(wheel)], check=True)
    # the dependencies come from this venv's site-packages (as a plain path: its editable
    # agentlab finder is not loaded), the package itself only from the wheel
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"  # not the source tree
    work.mkdir()
    check = textwrap.dedent("""
        import agentlab as al, pathlib, sys
        assert pathlib.Path(al.__file__).is_relative_to(sys.prefix), al.__file__
        dialogs = al.datasets.load("taskmaster4-coffee")
        assert len(dialogs) == 300, len(dialogs)
        assert {"scenarios", "taskmaster4-coffee"} <= set(al.datasets.list().name)
        assert "deepgram-gpt4o-cartesia-webrtc" in al.available_profiles()
        print("ok", len(dialogs))
    """)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": ""}
    out = subprocess.run([py, "-c", check], cwd=work, env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok 300"
    demo = subprocess.run([py, "-m", "agentlab", "demo", "--out", str(work / "out")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert (work / "out").is_dir() and any((work / "out").iterdir())

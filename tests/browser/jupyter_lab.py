"""Browser-test helpers: JupyterLab on 127.0.0.1 and Debian's chromium via Playwright."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HEADLESS_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(folder: Path, cells: list[str], kernel: str = "python3"):
    """A notebook of ``cells`` served by JupyterLab on 127.0.0.1; yields its URL and stops
    the server afterwards."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                     "outputs": [], "source": c} for c in cells],
          "metadata": {"kernelspec": {"name": kernel, "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / "test.ipynb").write_text(json.dumps(nb))
    settings = folder / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get Jupyter news?" toast over screenshots
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = free_port(), "agentlab-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(folder / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--allow-root", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={folder}", "--ServerApp.port_retries=0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("JupyterLab did not start on 127.0.0.1") from None
                time.sleep(0.5)
        yield f"{base}/lab/tree/test.ipynb?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def open_notebook(page, url: str) -> None:
    """Open the notebook and wait for an idle kernel, answering whatever dialogs a fresh
    JupyterLab shows on the way (a kernel picker, news, a build notice: which ones
    depend on the version and the machine, so none is assumed)."""
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    deadline = time.monotonic() + 60
    while not (idle.count() and not dismiss_dialogs(page)):
        if time.monotonic() > deadline:
            raise AssertionError("the notebook's kernel never became idle")
        time.sleep(0.25)


def dismiss_dialogs(page) -> list[str]:
    """Accept every open JupyterLab dialog (its default button, else Escape); the texts
    of the dialogs closed, so a test can say what was in its way."""
    closed = []
    dialogs = page.locator(".jp-Dialog")
    for _ in range(5):
        if not dialogs.count():
            break
        dialog = dialogs.first
        closed.append(dialog.inner_text(timeout=5_000)[:200])
        accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
        if accept.count():
            accept.first.click(timeout=5_000)
        else:
            page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=5_000)
    return closed


def run_cell(page, index: int = 0, attempts: int = 6) -> None:
    """Shift+Enter in cell ``index`` until the kernel takes it (the page can be
    interactive before the kernel connection is)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(attempts):
        dismiss_dialogs(page)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = prompt.inner_text()
            if "[*]" in text or any(ch.isdigit() for ch in text):
                return
            time.sleep(0.25)
    raise AssertionError(f"the kernel never started running cell {index}")

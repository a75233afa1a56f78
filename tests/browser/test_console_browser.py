"""A real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright (never a
downloaded browser), the SessionConsole after a short simulated call, and a screenshot.

The screenshot is written to ``out/browser/console.png`` (and kept as
``docs/img/console.png`` when AGENTLAB_UPDATE_SCREENSHOT=1).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "out" / "browser" / "console.png"

CELL = """import asyncio
import agentlab as al

pipeline = al.Pipeline()

@pipeline.on("user_turn_start")
async def crm_lookup(transcript):
    await asyncio.sleep(0.08)

async def handle_call(ctx):
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)
console = al.widgets.SessionConsole(runner, seed=1)
console.say("Hi, I need to change my delivery address.")
console.say("It's 12 Elm Street.", interrupt_after_ms=600)
console.end()
console
"""

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make test installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                     "outputs": [], "source": CELL}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "console.ipynb").write_text(json.dumps(nb))
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get Jupyter news?" toast over the screenshot
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = free_port(), "agentlab-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--allow-root", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=", "--ServerApp.port_retries=0"],
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
        yield f"{base}/lab/tree/console.ipynb?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_cell(page, attempts: int = 6) -> None:
    """Shift+Enter in the cell until the kernel takes it (the page can be interactive
    before the kernel connection is)."""
    prompt = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt")
    for _ in range(attempts):
        page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "[*]" in prompt.inner_text() or "[1]" in prompt.inner_text():
                return
            time.sleep(0.25)
    raise AssertionError("the kernel never started running the cell")


def test_console_renders_in_jupyterlab_after_a_simulated_call(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(lab, wait_until="domcontentloaded", timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=60_000)
            run_cell(page)
            out = page.locator(".jp-OutputArea-output", has_text="last turn:")
            out.wait_for(timeout=120_000)
            text = out.inner_text()
            assert "It's 12 Elm Street." in text and "call ended" in text
            assert "user_turn_start: crm_lookup" in text
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            out.screenshot(path=str(SHOT))
        finally:
            browser.close()
    assert SHOT.stat().st_size > 10_000
    if os.environ.get("AGENTLAB_UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(SHOT, ROOT / "docs" / "img" / "console.png")

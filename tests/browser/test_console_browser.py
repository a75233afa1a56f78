"""A real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright (never a
downloaded browser), the SessionConsole after a short simulated call, and a screenshot.

The screenshot is written to ``out/browser/console.png`` (and kept as
``docs/img/console.png`` when AGENTLAB_UPDATE_SCREENSHOT=1).
"""

import os
import shutil
from pathlib import Path

import pytest
from jupyter_lab import CHROMIUM, HEADLESS_ARGS, jupyterlab, open_notebook, run_cell

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


def test_console_renders_in_jupyterlab_after_a_simulated_call(tmp_path):
    from playwright.sync_api import sync_playwright

    with jupyterlab(tmp_path, [CELL]) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            open_notebook(page, url)
            run_cell(page, 0)
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

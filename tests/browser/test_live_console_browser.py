"""The SessionConsole in live mode in headless chromium: a fake capture device plays real
speech (CMU ARCTIC) into the console's microphone, the console's call hears it, the
agent's voice plays at the page, the caller talks over the first reply; the transcript,
the latency bar and the turns table show it while the call runs, and a screenshot.

The screenshot is written to ``out/browser/live_console.png`` (and kept as
``docs/img/live_console.png`` when AGENTLAB_UPDATE_SCREENSHOT=1).
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from jupyter_lab import (
    CHROMIUM,
    HEADLESS_ARGS,
    dismiss_dialogs,
    jupyterlab,
    open_notebook,
    run_cell,
)

pytest.importorskip("faster_whisper", reason="needs the live extra")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make test installs it)")
ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "out" / "browser" / "live_console.png"
DATA = Path(__file__).parents[1] / "data" / "speech"

CELLS = ["""import asyncio
import agentlab as al

pipeline = al.Pipeline()

@pipeline.on("user_turn_start")
async def crm_lookup(transcript):
    await asyncio.sleep(0.08)

async def handle_call(ctx):
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)
console = al.widgets.SessionConsole(runner, live=True)
console""", "console.start()", """print("RECORDED-WHILE-RUNNING", len(console.recorder.turns),
      console.recorder.turns.interrupted.tolist())"""]


def test_the_console_drives_a_live_call_from_the_microphone(tmp_path):
    import soundfile as sf
    from playwright.sync_api import sync_playwright

    quiet = lambda s: np.zeros(int(16000 * s), np.float32)
    first, _ = sf.read(DATA / "cmu_arctic_us_axb_a0005.wav", dtype="float32")
    second, _ = sf.read(DATA / "cmu_arctic_us_aew_a0003.wav", dtype="float32")
    fake = tmp_path / "caller.wav"
    sf.write(fake, np.concatenate([quiet(0.5), first, quiet(1.0), second, quiet(4.0)]),
             16000, subtype="PCM_16")
    args = [*HEADLESS_ARGS, "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake}%noloop",
            "--autoplay-policy=no-user-gesture-required"]
    with jupyterlab(tmp_path, CELLS) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            open_notebook(page, url)
            run_cell(page, 0)
            page.locator("text=agent's voice: on").wait_for(timeout=60_000)
            run_cell(page, 1)
            page.locator("text=press Start on the microphone").wait_for(timeout=30_000)
            dismiss_dialogs(page)
            page.locator("button.agentlab-mic").click()
            # while the call runs: the transcript, then the table, fill
            page.locator("text=caller speaking...").wait_for(timeout=30_000)
            page.locator("text=shook hands").first.wait_for(timeout=30_000)
            page.wait_for_timeout(4_000)  # the second reply plays
            run_cell(page, 2)  # the recorder's tables while the call still runs
            out = page.locator(".jp-OutputArea-output", has_text="RECORDED-WHILE-RUNNING")
            out.wait_for(timeout=60_000)
            during = out.inner_text()
            console = page.locator(".jp-OutputArea-output").first
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            console.screenshot(path=str(SHOT))
            text = console.inner_text()
        finally:
            browser.close()
    assert "RECORDED-WHILE-RUNNING 2 [True, False]" in during, during
    assert "last turn:" in text and "user_turn_start: crm_lookup" in text
    assert SHOT.stat().st_size > 10_000
    if os.environ.get("AGENTLAB_UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(SHOT, ROOT / "docs" / "img" / "live_console.png")

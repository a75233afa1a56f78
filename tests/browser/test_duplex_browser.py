"""A full-duplex call at the page in headless chromium: the microphone (a fake capture
device playing real speech, CMU ARCTIC) streams into a live call started as a task; the
agent's voice plays at the page (AgentVoice); the caller talks over the agent's first
reply, which stops, at the page too."""

import json
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
DATA = Path(__file__).parents[1] / "data" / "speech"
FIRST, SECOND = "cmu_arctic_us_axb_a0005.wav", "cmu_arctic_us_aew_a0003.wav"

CELLS = [
    """import asyncio, json
import agentlab as al
from agentlab import live
mic, voice = live.Microphone(), live.AgentVoice()
display(mic, voice)""",
    """async def handle_call(ctx):
    await ctx.session.run()
runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
rec = al.Recorder()
task = asyncio.ensure_future(live.run_live(runner, live.MicrophoneCaller(mic, stream=True),
                                           realtime=True, recorder=rec, voice=voice))""",
    """result = await task
cut = rec.table("interruption").to_pylist()
print("DUPLEX", json.dumps({"texts": rec.turns.user_text.tolist(),
      "interrupted": rec.turns.interrupted.tolist(), "interruptions": len(cut),
      "delays": voice.stop_delays(), "starts": len(voice.starts()),
      "state": result.calls[0].final_state}))""",
]


def test_a_caller_at_the_microphone_talks_over_the_agent(tmp_path):
    import soundfile as sf
    from playwright.sync_api import sync_playwright

    quiet = lambda s: np.zeros(int(16000 * s), np.float32)
    first, _ = sf.read(DATA / FIRST, dtype="float32")
    second, _ = sf.read(DATA / SECOND, dtype="float32")
    fake = tmp_path / "caller.wav"  # the caller starts again 1 s after they stopped
    sf.write(fake, np.concatenate([quiet(0.5), first, quiet(1.0), second, quiet(4.0)]),
             16000, subtype="PCM_16")
    args = [*HEADLESS_ARGS, "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake}%noloop",
            "--autoplay-policy=no-user-gesture-required"]
    with jupyterlab(tmp_path, CELLS) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            open_notebook(page, url)
            run_cell(page, 0)
            page.locator("text=agent's voice: on").wait_for(timeout=60_000)
            run_cell(page, 1)  # the call waits for the caller's audio
            page.wait_for_timeout(2_000)
            button = page.locator("button.agentlab-mic")
            dismiss_dialogs(page)
            button.click()
            page.locator("text=listening").wait_for(timeout=30_000)
            page.wait_for_timeout(12_000)  # both utterances and the replies
            dismiss_dialogs(page)
            button.click()  # the caller hangs up: the stream closes, the call ends
            run_cell(page, 2)
            out = page.locator(".jp-OutputArea-output", has_text="DUPLEX")
            out.wait_for(timeout=120_000)
            report = json.loads(out.inner_text().split("DUPLEX", 1)[1].strip())
        finally:
            browser.close()
    print("duplex at the page:", report)
    assert len(report["texts"]) == 2, report
    assert "forget" in report["texts"][0].lower() and "hands" in report["texts"][1].lower()
    assert report["interruptions"] == 1 and report["interrupted"] == [True, False], report
    assert len(report["delays"]) == 1 and report["delays"][0] <= 100, report
    assert report["starts"] == 2  # both replies played at the page

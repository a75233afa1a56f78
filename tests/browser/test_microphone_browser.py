"""The microphone widget in headless chromium with a fake capture file (a real CMU ARCTIC
utterance): PCM arrives in Python and a live turn is transcribed."""

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
SPEECH = Path(__file__).parents[1] / "data" / "speech" / "cmu_arctic_us_axb_a0004.wav"

CELLS = [
    "from agentlab import live\nmic = live.Microphone()\nmic",
    """import agentlab as al
async def handle_call(ctx):
    await ctx.session.run()
runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
rec = al.Recorder()
_ = await live.run_live(runner, live.MicrophoneCaller(mic), realtime=False, recorder=rec)
print(f"RECEIVED {mic.seconds():.1f} s; HEARD: {rec.turns.user_text.iloc[0]}")""",
]


def test_microphone_pcm_reaches_python_and_a_turn_is_transcribed(tmp_path):
    import soundfile as sf
    from playwright.sync_api import sync_playwright

    x, sr = sf.read(SPEECH, dtype="float32")
    fake = tmp_path / "caller.wav"  # speech, then a second of silence
    sf.write(fake, np.concatenate([np.zeros(sr // 2), x, np.zeros(sr)]), sr, subtype="PCM_16")
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
            button = page.locator("button.agentlab-mic")
            button.wait_for(timeout=60_000)
            dismiss_dialogs(page)  # a dialog over the page must not take the click
            button.click()
            page.locator("text=listening:").wait_for(timeout=30_000)
            page.wait_for_timeout(int(1000 * (len(x) / sr + 1.8)))
            dismiss_dialogs(page)
            button.click()
            page.locator("text=stopped:").wait_for(timeout=30_000)
            run_cell(page, 1)
            out = page.locator(".jp-OutputArea-output", has_text="HEARD:")
            out.wait_for(timeout=120_000)
            text = out.inner_text()
        finally:
            browser.close()
    seconds = float(text.split("RECEIVED ")[1].split(" s")[0])
    assert seconds >= len(x) / sr
    heard = text.split("HEARD:")[1].lower()
    assert "glad to see you" in heard, text

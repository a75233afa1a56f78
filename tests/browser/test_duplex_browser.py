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


def _call_at_the_page(tmp_path, said, cells):
    """Run ``cells`` in JupyterLab with ``said`` as the microphone (a fake capture
    device), pressing Start after the call is started and Stop when it is all said;
    the JSON the last cell prints after DUPLEX."""
    import soundfile as sf
    from playwright.sync_api import sync_playwright

    fake = tmp_path / "caller.wav"
    sf.write(fake, said, 16000, subtype="PCM_16")
    args = [*HEADLESS_ARGS, "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake}%noloop",
            "--autoplay-policy=no-user-gesture-required"]
    with jupyterlab(tmp_path, cells) as url, sync_playwright() as p:
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
            page.wait_for_timeout(1000 * len(said) // 16000)  # all of it is said
            dismiss_dialogs(page)
            button.click()  # the caller hangs up: the stream closes, the call ends
            run_cell(page, 2)
            out = page.locator(".jp-OutputArea-output", has_text="DUPLEX")
            out.wait_for(timeout=120_000)
            return json.loads(out.inner_text().split("DUPLEX", 1)[1].strip())
        finally:
            browser.close()


def quiet(s):
    return np.zeros(int(16000 * s), np.float32)


def test_a_caller_at_the_microphone_talks_over_the_agent(tmp_path):
    import soundfile as sf

    first, _ = sf.read(DATA / FIRST, dtype="float32")
    second, _ = sf.read(DATA / SECOND, dtype="float32")
    # the caller starts again 1 s after they stopped: over the agent's reply
    said = np.concatenate([quiet(0.5), first, quiet(1.0), second, quiet(7.0)])
    report = _call_at_the_page(tmp_path, said, CELLS)
    print("duplex at the page:", report)
    assert len(report["texts"]) == 2, report
    assert "forget" in report["texts"][0].lower() and "hands" in report["texts"][1].lower()
    assert report["interruptions"] == 1 and report["interrupted"] == [True, False], report
    assert len(report["delays"]) == 1 and report["delays"][0] <= 100, report
    assert report["starts"] == 2  # both replies played at the page


def test_a_short_sound_at_the_microphone_holds_the_agent_and_it_resumes(tmp_path):
    import soundfile as sf

    first, _ = sf.read(DATA / FIRST, dtype="float32")
    onset = int(0.192 * 16000)
    short = first[onset:onset + 4800]  # 300 ms of speech: "Will..."
    said = np.concatenate([quiet(0.5), first, quiet(1.0), short, quiet(9.0)])
    cells = [*CELLS[:2], """result = await task
first = [r for r in voice.reports() if r.get("segment") == 1]
print("DUPLEX", json.dumps({"interruptions": len(rec.table("interruption")),
      "kinds": sorted({r["type"] for r in first}),
      "page": max(r["played"] for r in first if "played" in r),
      "agent": sum(len(x) for t, x in result.audio[0].agent
                   if t < rec.table("agent_speech_end").to_pylist()[0]["t_ms"])}))"""]
    report = _call_at_the_page(tmp_path, said, cells)
    print("a short sound at the page:", report)
    assert report["interruptions"] == 0, report
    assert {"held", "resumed"} <= set(report["kinds"]), report  # the page paused, resumed
    assert abs(report["page"] - report["agent"]) <= 1600, report  # then played it all

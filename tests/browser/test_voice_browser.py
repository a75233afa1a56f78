"""The agent's voice at the page (agentlab/live/voice.py) in headless chromium: a live
call's audio is played by the page's AudioWorklet as it is produced, the page reports what
it played and when, and a barge-in stops the page's audio at once. Real speech (CMU
ARCTIC) from the caller, piper for the agent, real time."""

import json
from pathlib import Path

import pytest
from jupyter_lab import CHROMIUM, HEADLESS_ARGS, jupyterlab, open_notebook, run_cell

pytest.importorskip("faster_whisper", reason="needs the live extra")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make test installs it)")
DATA = Path(__file__).parents[1] / "data" / "speech"

SETUP = f"""import json
import numpy as np
import agentlab as al
from agentlab import live
from agentlab.runtime.caller import CallerTurn

def speech(name):
    x = live.load_audio({str(DATA)!r} + "/" + name)
    return np.concatenate([np.zeros(1600, np.float32), x, np.zeros(8000, np.float32)])

async def handle_call(ctx):
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())

class Caller:
    def __init__(self, turns):
        self._turns = turns
    def turns(self):
        return self._turns

voice = live.AgentVoice()
voice"""

PLAY = """rec = al.Recorder()
caller = Caller([CallerTurn("hi", 300.0, reply="Sure, I can help you with that order today.",
                            audio=speech("cmu_arctic_us_axb_a0005.wav"))])
result = await live.run_live(runner, caller, realtime=True, recorder=rec, voice=voice)"""

PLAY_REPORT = """agent = sum(len(x) for _, x in result.audio[0].agent)
page = result.perceived_at_page()
print("PLAYED", json.dumps({"page": voice.samples_played(), "agent": agent,
      "starts": len(voice.starts()), "perceived": page.page_ms.tolist(),
      "e2e": page.total_e2e_ms.tolist()}))"""

BARGE = """voice2 = live.AgentVoice()
display(voice2)
rec2 = al.Recorder()
long = ("Let me check that for you. Your order left our warehouse in Dallas on Monday "
        "morning, and it is now with the courier, who expects to deliver it on Friday.")
caller = Caller([CallerTurn("hi", 300.0, reply=long, audio=speech("cmu_arctic_us_axb_a0005.wav")),
                 CallerTurn("over", 300.0, 1000.0, reply="Sure.",
                            audio=speech("cmu_arctic_us_aew_a0003.wav"))])
result2 = await live.run_live(runner, caller, realtime=True, recorder=rec2, voice=voice2)"""

BARGE_REPORT = """cut = sum(len(x) for t, x in result2.audio[0].agent
          if t < rec2.table("agent_speech_start").to_pylist()[1]["t_ms"])
first = [r for r in voice2.reports() if r.get("segment") == 1 and "played" in r]
played_first = max(r["played"] for r in first)
print("BARGE", json.dumps({"interruptions": len(rec2.table("interruption")),
      "delays": voice2.stop_delays(), "page_first": played_first, "recorded_first": cut,
      "interrupted": rec2.turns.interrupted.tolist()}))"""


def _output(page, marker):
    out = page.locator(".jp-OutputArea-output", has_text=marker)
    out.wait_for(timeout=180_000)
    text = out.inner_text()
    return json.loads(text.split(marker, 1)[1].strip().splitlines()[0])


def test_the_agents_voice_plays_at_the_page_and_stops_on_a_barge_in(tmp_path):
    from playwright.sync_api import sync_playwright

    cells = [SETUP, PLAY, PLAY_REPORT, BARGE, BARGE_REPORT]
    args = [*HEADLESS_ARGS, "--autoplay-policy=no-user-gesture-required"]
    with jupyterlab(tmp_path, cells) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            open_notebook(page, url)
            run_cell(page, 0)
            page.locator("text=agent's voice: on").wait_for(timeout=60_000)
            run_cell(page, 1)
            run_cell(page, 2)
            played = _output(page, "PLAYED")
            run_cell(page, 3)
            run_cell(page, 4)
            barge = _output(page, "BARGE")
        finally:
            browser.close()
    print("voice at the page:", played, barge)
    # every sample of the reply was played at the page, its start reported
    assert abs(played["page"] - played["agent"]) <= 1600, played
    assert played["starts"] == 1
    # what the person at the page heard: no sooner than the pipeline's first audio, and
    # within the page's output path of it
    (heard,), (e2e,) = played["perceived"], played["e2e"]
    assert e2e - 50 <= heard <= e2e + 400, played
    # the barge-in: the page dropped the rest within 100 ms of being told, and played no
    # more of the reply than the agent's recording kept (plus one chunk in flight)
    assert barge["interruptions"] == 1 and barge["interrupted"] == [True, False], barge
    assert len(barge["delays"]) == 1 and barge["delays"][0] <= 100, barge
    assert barge["page_first"] <= barge["recorded_first"] + 1600, barge

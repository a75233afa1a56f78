"""Write and execute the notebooks (stored outputs are what nbval checks).

Run from the repo root: ``.venv/bin/python notebooks/make_notebooks.py``. Each notebook is
one idea, uses only the public API, is seeded, and marks the summary cells that must not
change with ``# NBVAL_CHECK_OUTPUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent
CHECK = "# NBVAL_CHECK_OUTPUT\n"

SETUP = """import asyncio
import agentlab as al
import pandas as pd
pd.set_option("display.width", 120)"""

NOTEBOOKS = {
    "01_quickstart": [
        ("md", "# Quickstart\n\nDefine a pipeline and hooks the way the SDK docs do, run "
               "simulated calls on virtual time, and read the per-turn latency."),
        ("code", SETUP),
        ("code", """pipeline = al.Pipeline()

@pipeline.on("user_turn_start")
async def crm_lookup(transcript):
    await asyncio.sleep(0.08)            # a CRM call on every turn

@pipeline.on("llm")
async def redact(data):                 # forces waiting for the full response
    return data["text"].replace("SSN", "[REDACTED]")

async def handle_call(ctx):
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)
runner"""),
        ("code", """rec = al.Recorder(config="quickstart")
sim = await al.simulate(runner, calls=20, seed=1, recorder=rec)
len(rec.sessions), len(rec.turns)"""),
        ("code", CHECK + """al.analysis.summary(rec.turns, ["total_e2e_ms", "seg_user_hooks_ms",
                    "seg_llm_rest_ms"]).round(1)"""),
        ("code", "_ = al.plot.segments(rec.turns, by=\"config\")"),
    ],
    "02_three_vocabularies": [
        ("md", "# The three hook vocabularies side by side\n\nRunner and session call hooks, "
               "pipeline stream and lifecycle hooks, and fire-and-forget framework hooks "
               "(camelCase names accepted) all run on the same call."),
        ("code", SETUP),
        ("code", """pipeline = al.Pipeline()

@pipeline.on("stt")                      # stream slot: wraps the built-in STT
async def no_fillers(audio_stream):
    async for event in al.run_stt(audio_stream):
        event.data.text = " ".join(w for w in event.data.text.split() if w.lower() not in {"um", "uh"})
        yield event

@pipeline.on("agent_turn_start")         # lifecycle
async def speaking():
    pass

async def handle_call(ctx):
    @ctx.session.on("user_turn")         # session call hook
    async def log_turn(text):
        pass
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)

@runner.on("call_start")                 # runner call hook
async def started(ctx):
    pass

latencies = []
runner.hooks.register(onTurnLatency=lambda p: latencies.append(p.segments.totalE2EMs))"""),
        ("code", """rec = al.Recorder()
_ = await al.simulate(runner, ["um I need help with uh my bill", "thanks"], seed=3, recorder=rec)"""),
        ("code", CHECK + """rec.hooks.groupby(["scope", "hook"], observed=True).size().rename("calls")"""),
        ("code", CHECK + """print(rec.turns.user_text.tolist())
print([round(x) for x in latencies])"""),
    ],
    "03_latency_breakdown": [
        ("md", "# Latency breakdown: one call, then many\n\nSegments add up exactly to "
               "`total_e2e_ms`; the peer-named columns match LiveKit's and Pipecat's "
               "definitions."),
        ("code", SETUP),
        ("code", """async def handle_call(ctx):
    await ctx.session.run()
runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
rec = al.Recorder(config="webrtc")
_ = await al.simulate(runner, scenarios="order-status-tools", repeats=50, seed=7, recorder=rec)"""),
        ("code", CHECK + """t = rec.turns
first = t.iloc[1]
print(f"turn {first.turn_id}: total {first.total_e2e_ms:.1f} ms")
print(first[al.analysis.segment_columns(t)].round(1).to_string())"""),
        ("code", "_ = al.plot.waterfall(t, turn_id=2)"),
        ("code", CHECK + """al.analysis.summary(t, ["total_e2e_ms", "transcription_delay_ms",
                  "end_of_turn_delay_ms", "llm_ttft_ms", "tts_ttfb_ms"]).round(0)"""),
        ("code", "_ = al.plot.ecdf(t, \"total_e2e_ms\", by=\"turn_id\")"),
    ],
    "04_compare_configs": [
        ("md", "# Comparing hook configurations\n\nEvery config plays the same scenarios "
               "with the same seeds; differences come with bootstrap confidence "
               "intervals."),
        ("code", SETUP),
        ("code", """def baseline(runner):
    pass

def crm_lookup(runner):
    @runner.pipeline.on("user_turn_start")
    async def lookup(transcript):
        await asyncio.sleep(0.08)

def llm_redaction(runner):
    crm_lookup(runner)
    @runner.pipeline.on("llm")
    async def redact(data):
        return data["text"].replace("SSN", "[REDACTED]")

exp = al.Experiment(configs=[baseline, crm_lookup, llm_redaction], scenarios="scenarios",
                    repeats=3, seed=0)
rec = exp.run(progress=False)
exp"""),
        ("code", CHECK + """cmp = al.analysis.compare(rec.turns, "baseline", "llm_redaction")
cmp[["metric", "mean_diff", "mean_diff_lo", "mean_diff_hi"]].round(0)"""),
        ("code", CHECK + """al.analysis.regressions(cmp, threshold_ms=20)"""),
        ("code", "_ = al.plot.segments(rec.turns, by=\"config\")"),
    ],
    "05_widgets": [
        ("md", "# Widgets\n\nA console to talk to the agent, a comparator with knobs, and "
               "an event explorer. The cells drive them from code so the notebook runs "
               "unattended; in Jupyter, type and click."),
        ("code", SETUP),
        ("code", """pipeline = al.Pipeline()

@pipeline.on("user_turn_start")
async def crm_lookup(transcript):
    await asyncio.sleep(0.08)

async def handle_call(ctx):
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)
console = al.widgets.SessionConsole(runner, seed=1)
console"""),
        ("code", """console.say("Hi, I need to change my delivery address.")
console.toggles.children[0].value = False      # switch the CRM hook off
console.say("It's 12 Elm Street.", interrupt_after_ms=600)
console.end()"""),
        ("code", CHECK + """console.turns[["turn_id", "user_text", "seg_user_hooks_ms", "interrupted"]]"""),
        ("code", """def baseline(runner):
    pass
comparator = al.widgets.Comparator(al.Experiment(configs=[baseline], scenarios="agent-ends-call", repeats=2))
comparator.run()
comparator"""),
        ("code", """explorer = al.widgets.EventExplorer(console.recorder)
explorer"""),
        ("code", CHECK + """explorer.kinds.value = ("user_turn", "agent_turn")
explorer.selection()[["turn_id", "event", "text"]]"""),
    ],
    "06_taskmaster_tools": [
        ("md", "# Real dialogs with tools (Taskmaster-4)\n\n300 real coffee-ordering dialogs "
               "(CC BY 4.0, Google) converted to scenarios: the callers' real words, the "
               "annotated tool calls and their recorded results."),
        ("code", SETUP),
        ("code", CHECK + """table = al.datasets.list()
table[["name", "kind", "items", "license"]]"""),
        ("code", """dialogs = al.datasets.load("taskmaster4-coffee")
async def handle_call(ctx):
    await ctx.session.run()
runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline())
rec = al.Recorder(config="taskmaster")
_ = await al.simulate(runner, scenarios=dialogs, seed=0, recorder=rec)"""),
        ("code", CHECK + """tools = rec.tools
called = tools.groupby("scenario_id", observed=True).tool_name.apply(lambda s: list(s.astype(str)))
expected = {d.id: list(d.expected.tools) for d in dialogs}
match = sum(called.get(k, []) == v for k, v in expected.items())
print(f"tool sequence equals the annotation in {match}/{len(dialogs)} dialogs")
tools.tool_name.value_counts()"""),
        ("code", CHECK + """al.analysis.summary(rec.turns, ["total_e2e_ms", "seg_tools_ms"]).round(0)"""),
    ],
    "07_dask_sweep": [
        ("md", "# Scaling a sweep with Dask\n\nThe same experiment on a local Dask cluster "
               "(127.0.0.1) gives the same rows as in this process; point `executor=` at "
               "a real cluster's `Client` to go bigger."),
        ("code", SETUP + "\nfrom distributed import Client, LocalCluster"),
        ("code", """def baseline(runner):
    pass

def crm_lookup(runner):
    @runner.pipeline.on("user_turn_start")
    async def lookup(transcript):
        await asyncio.sleep(0.08)

exp = al.Experiment(configs=[baseline, crm_lookup], scenarios="scenarios", repeats=4, seed=2)
cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                       host="127.0.0.1")
client = Client(cluster)
on_dask = exp.run(client, progress=False)
here = exp.run(progress=False)
client.close(); cluster.close()"""),
        ("code", CHECK + """same = on_dask.turns.drop(columns="run_id").equals(here.turns.drop(columns="run_id"))
print("identical turns on Dask and in-process:", same)
print(len(on_dask.sessions), "calls")"""),
    ],
    "08_live_session": [
        ("md", "# A live session\n\nThe same runner and hooks on real audio with real offline "
               "models (Silero VAD, Whisper tiny.en, piper), on the real clock. Two CMU "
               "ARCTIC utterances play the caller (fed as fast as the models allow here; "
               "`realtime=True` paces them like a person). Needs the `live` extra."),
        ("code", SETUP + "\nfrom pathlib import Path\nfrom agentlab import live"),
        ("code", """pipeline = al.Pipeline()

@pipeline.on("user_turn_start")
async def crm_lookup(transcript):
    await asyncio.sleep(0.08)

async def handle_call(ctx):
    await ctx.session.run()

runner = al.AgentRunner(entrypoint=handle_call, agent_id="support", pipeline=pipeline)
speech = Path("../tests/data/speech")
caller = live.AudioFileCaller([speech / "cmu_arctic_us_aew_a0003.wav",
                               speech / "cmu_arctic_us_axb_a0004.wav"])
rec = al.Recorder(config="live")
result = await live.run_live(runner, caller, realtime=False, recorder=rec)"""),
        ("code", CHECK + """print(rec.turns.user_text.tolist())
print(rec.turns.seg_user_hooks_ms.round(-1).tolist(), result.calls[0].final_state)"""),
        ("code", """rec.turns[["turn_id", "total_e2e_ms", "seg_vad_ms", "seg_stt_ms", "seg_tts_ttfb_ms"]].round(0)"""),
        ("md", "With `realtime=True`, `result.audio[0].perceived_latency(rec.turns)` compares "
               "what the caller would hear (end of speech -> agent onset, measured on the "
               "recording with librosa) with `total_e2e_ms`."),
        ("code", "_ = al.plot.timeline(rec.events, audio=result.audio[0].channel(\"user\") + result.audio[0].channel(\"agent\"))"),
        ("md", "## Talking over the agent\n\nA scenario whose second turn starts 1.2 s "
               "into the agent's first reply (`barge_in_ms`). piper speaks the caller. While "
               "the agent speaks, the caller's audio goes to the VAD chunk by chunk; once it "
               "has heard `SileroVAD.min_interruption_ms` (500 ms) of speech, the agent "
               "stops there, `interruption` fires with what the caller heard, the turn is "
               "flagged, and everything the caller said over the agent is their next turn. "
               "A shorter sound (a cough, an \"mm\") does not interrupt."),
        ("code", """scenario = al.Scenario.from_dict({"id": "talk-over", "turns": [
    {"user": "Where is my order?",
     "agent": "Let me check that for you. Your order left our warehouse in Dallas on Monday "
              "morning, and it is now with the courier, who expects to deliver it on Friday."},
    {"user": "Can you just text me the tracking number?", "barge_in_ms": 1200,
     "agent": "Sure, I will text it to you now."}]})
over = al.Recorder(config="talk-over")
talked = await live.run_live(runner, live.ScenarioCaller(scenario), realtime=False,
                             recorder=over)"""),
        ("code", CHECK + """cut = over.table("interruption").to_pylist()
reply = scenario.turns[0].agent
print(len(cut), over.turns.interrupted.tolist(), reply.startswith(cut[0]["heard"]))"""),
        ("code", """print("heard before the caller talked over it:", repr(cut[0]["heard"]))
over.turns[["turn_id", "user_text", "interrupted", "total_e2e_ms"]]"""),
        ("code", "_ = al.plot.timeline(over.events, audio=talked.audio[0].channel(\"user\") + talked.audio[0].channel(\"agent\"))"),
        ("md", "In a notebook with a browser, `voice = live.AgentVoice()` shows a player: "
               "pass `voice=voice` (with `realtime=True`) and the agent's audio plays at the "
               "page as it is produced and stops there on a barge-in; "
               "`result.perceived_at_page()` then gives the latency a person at the page "
               "heard, next to `total_e2e_ms` (docs/live.md)."),
    ],
    "09_videosdk_program": [
        ("md", "# A whole VideoSDK program, pasted\n\nThe VideoSDK document's complete "
               "example, with only the imports changed (`videosdk.agents` -> `agentlab`, "
               "`videosdk.plugins.<provider>` -> `agentlab.plugins.<provider>`; `run_stt` "
               "and `run_tts`, which the example uses, are imported too). The plugins carry "
               "their providers' published latencies (docs/plugins.md), so the breakdown "
               "below is that stack's."),
        ("code", """import logging
import re
import agentlab as al
from agentlab import Agent, Pipeline, AgentSession, JobContext, run_stt, run_tts
from agentlab.plugins.deepgram import DeepgramSTT
from agentlab.plugins.google import GoogleLLM
from agentlab.plugins.cartesia import CartesiaTTS
from agentlab.plugins.silero import SileroVAD
from agentlab.plugins.turn_detector import TurnDetector

class VoiceAgent(Agent):
    def __init__(self):
        super().__init__(
            instructions="You are a helpful customer support agent."
        )

async def entrypoint(ctx: JobContext):
    agent = VoiceAgent()

    pipeline = Pipeline(
        stt=DeepgramSTT(),
        llm=GoogleLLM(),
        tts=CartesiaTTS(),
        vad=SileroVAD(),
        turn_detector=TurnDetector(),
    )

    @pipeline.on("stt")
    async def stt_hook(audio_stream):
        async def filtered_audio():
            async for audio in audio_stream:
                if len(audio) < 300:
                    continue
                yield audio

        async for event in run_stt(filtered_audio()):
            if event.data and event.data.text:
                text = event.data.text.lower()
                text = re.sub(r"\\b(uh|um|like)\\b", "", text)
                event.data.text = " ".join(text.split())
            yield event

    @pipeline.on("tts")
    async def tts_hook(text_stream):
        async def preprocess():
            async for text in text_stream:
                yield text.replace("AM", "A M").replace("PM", "P M")

        async for audio in run_tts(preprocess()):
            yield audio

    @pipeline.on("llm")
    async def on_llm(data: dict):
        logging.info(f"[LLM] {data.get('text', '')[:80]}...")

    @pipeline.on("user_turn_start")
    async def on_user_start(transcript: str):
        logging.info(f"[USER] {transcript}")

    session = AgentSession(agent=agent, pipeline=pipeline)
    await session.start(wait_for_participant=True, run_until_shutdown=True)"""),
        ("md", "Run the entrypoint itself on the bundled scenarios, then a plain pipeline "
               "(the default profile, no hooks) for comparison."),
        ("code", """program = al.Recorder(config="videosdk example")
await al.simulate(entrypoint, scenarios="scenarios", repeats=5, seed=3, recorder=program)

async def plain(ctx):
    await ctx.session.run()

default = al.Recorder(config="default cascade")
await al.simulate(al.AgentRunner(entrypoint=plain), scenarios="scenarios", repeats=5,
                  seed=3, recorder=default)
len(program.turns), len(default.turns)"""),
        ("code", CHECK + """import pandas as pd
turns = pd.concat([program.turns, default.turns])
al.analysis.summary(turns, ["total_e2e_ms", "seg_stt_ms", "seg_llm_ttft_ms",
                            "seg_llm_rest_ms", "seg_tts_ttfb_ms"], by="config").round(0)"""),
        ("md", "Gemini's tighter time-to-first-token tail shows in the p95; the `llm` hook "
               "makes the reply wait for the whole response (`seg_llm_rest_ms`), which the "
               "plain pipeline streams."),
        ("code", "_ = al.plot.segments(turns, by=\"config\")"),
    ],
    "10_your_calls": [
        ("md", "# Your calls: traces in, a fitted profile, your hook change against it\n\n"
               "The loop: read last week's calls from the traces your stack wrote, fit a "
               "latency profile from them, simulate a hook change against that profile, "
               "and compare with confidence intervals. The calls here are real Pipecat "
               "traces: 24 calls through Pipecat's own `PipelineWorker` with tracing on "
               "(`tests/data/traces/pipecat_calls.otlp.jsonl`, made offline by "
               "`tests/data/traces/make_pipecat_trace.py`; its LLM and TTS services "
               "answer after drawn latencies)."),
        ("code", SETUP + """
import warnings
from pathlib import Path

trace = Path("..") / "tests" / "data" / "traces" / "pipecat_calls.otlp.jsonl"
with warnings.catch_warnings(record=True) as ignored:  # attributes agentlab does not map
    warnings.simplefilter("always")
    calls = al.io.read(trace)
print(ignored[0].message if ignored else "every attribute mapped")
len(calls.sessions), len(calls.turns), calls.turns.source.iloc[0]"""),
        ("md", "Pipecat measures the LLM's and the TTS's time to first byte and the "
               "user-to-bot latency of each turn; the rest of that latency is `other`. "
               "What it does not measure (VAD, STT, endpointing) is missing, not zero."),
        ("code", CHECK + """calls.turns[["total_e2e_ms", "seg_llm_ttft_ms", "seg_tts_ttfb_ms",
             "seg_other_ms"]].describe().round(1)"""),
        ("md", "Fit each stage. The report compares data and fit per stage (stages the "
               "turns do not measure keep the base profile's); the plot puts the data "
               "against the fit, stage by stage."),
        ("code", CHECK + """fit = al.Profile.fit(calls, name="last-week")
fit.report.round(1).assign(ks=fit.report.ks.round(3))"""),
        ("code", "_ = fit.plot()"),
        ("md", "Now the hook change, simulated against the fitted profile: a CRM lookup "
               "that holds each turn for 80 ms."),
        ("code", """import tempfile

def baseline(runner):
    pass

def crm_lookup(runner):
    @runner.pipeline.on("user_turn_start")
    async def lookup(transcript):
        await asyncio.sleep(0.08)

profile = fit.save(Path(tempfile.mkdtemp()) / "last-week.json")
exp = al.Experiment(configs={"baseline": baseline, "crm_lookup": crm_lookup},
                    scenarios="scenarios", profile=str(profile), repeats=10, seed=1)
result = exp.run(progress=False)"""),
        ("code", CHECK + """cmp = al.analysis.compare(result.turns, "baseline", "crm_lookup",
                          ["total_e2e_ms", "seg_user_hooks_ms"])
cmp.round(1)"""),
        ("md", "The predicted change on these calls: p50 and p95 of the end-to-end "
               "latency, with their bootstrap intervals."),
    ],
    "11_turn_taking": [
        ("md", "# Turn-taking: fixed vs dynamic endpointing vs speculation\n\n"
               "Production stacks do more than wait a fixed silence: LiveKit adapts the "
               "endpointing delay to the caller's pauses (`dynamic`) and starts the LLM "
               "before the turn is committed (preemptive generation); Deepgram Flux sends "
               "an eager end of turn that may be taken back. On the virtual clock every "
               "one of these is measurable: what the caller waits for the answer, how "
               "often speculation is thrown away and what it cost, how often the caller "
               "is cut off mid-sentence. Definitions: `docs/turn-taking.md`."),
        ("code", SETUP + """

def fixed(runner):
    pass  # the profile's endpointing: a turn model, mostly ~0.3 s, a quarter ~2.3 s

def dynamic(runner):
    runner.pipeline.turn_detector = al.sim.TurnDetector(
        mode="dynamic", min_delay_ms=300, max_delay_ms=3000, alpha=0.7)

def speculation(runner):
    runner.pipeline.turn_detector = al.sim.TurnDetector(eager=True)
    runner.pipeline.options["preemptive_generation"] = True

def dynamic_speculation(runner):
    runner.pipeline.turn_detector = al.sim.TurnDetector(
        mode="dynamic", min_delay_ms=300, max_delay_ms=3000, alpha=0.7, eager=True)
    runner.pipeline.options["preemptive_generation"] = True

def speculation_filler():  # a whole program: its own entrypoint and pipeline
    pipeline = al.Pipeline(turn_detector=al.sim.TurnDetector(eager=True),
                           preemptive_generation=True,
                           latency_budget=al.LatencyBudget(warning_ms=1200, exceeded_ms=2500))

    async def handle_call(ctx):
        @ctx.session.on("latency_budget")
        async def filler(level, elapsed_ms):
            if level == "warning":
                await ctx.session.say("One moment.")

        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, agent_id="agent", pipeline=pipeline)

configs = [fixed, dynamic, speculation, dynamic_speculation]
exp = al.Experiment(configs=configs, scenarios="scenarios", repeats=20, seed=0)
rec = exp.run(progress=False)
turns = rec.turns
len(rec.sessions), len(turns)"""),
        ("md", "What the caller waits for the answer (`first_answer_audio_ms`, the "
               "peers' `e2e_latency`), per config, with 95 % bootstrap intervals. Dynamic "
               "endpointing learns only from pauses inside turns, so on callers who do "
               "not hesitate it stays at its minimum; speculation takes the LLM's time "
               "that ran during the endpointing wait off the turn."),
        ("code", CHECK + """al.analysis.intervals(turns, "first_answer_audio_ms").round(0)"""),
        ("md", "The waste accounting: every speculative request, the ones used, the ones "
               "thrown away (the caller resumed, or the final transcript differed), and "
               "what those cost in tokens and LLM time. Hits count only what was saved: "
               "`speculation_overlap_ms` is exactly what a hit took off its turn."),
        ("code", CHECK + """waste = turns.groupby("config", observed=True).agg(
    turns=("turn_id", "size"), speculations=("speculations", "sum"),
    hits=("speculation_hit", "sum"), misses=("speculation_misses", "sum"),
    wasted_tokens_in=("wasted_tokens_in", "sum"), wasted_tokens_out=("wasted_tokens_out", "sum"),
    wasted_ms=("wasted_ms", "sum"), saved_ms_mean=("speculation_overlap_ms", "mean"))
waste.assign(hit_rate=waste.hits / waste.speculations).round(2)"""),
        ("md", "How the conversations went: a short endpointing delay cuts hesitant "
               "callers off mid-sentence (the rest of their sentence talks over the "
               "agent: an interruption), which `hesitant-caller` shows."),
        ("code", CHECK + """quality = rec.quality.groupby("config", observed=True)[
    ["interruptions", "barge_in_recovery", "talk_to_listen", "longest_monologue_ms",
     "mean_gap_ms"]].mean()
quality.round(2)"""),
        ("code", CHECK + """hesitant = turns[turns.scenario_id == "hesitant-caller"]
hesitant.groupby("config", observed=True)[["interrupted", "turn_resumes",
                                           "endpointing_delay_ms"]].mean().round(2)"""),
        ("md", "What moves the tail: of the p95 tail turns, each segment's share of "
               "their excess over the average turn (the shares add up to 1), and how much "
               "of the variance of the p95 across config x scenario cells each factor "
               "explains."),
        ("code", CHECK + """tail = al.analysis.sensitivity(turns, by=["config", "scenario_id"])
tail.round(3)"""),
        ("code", "_ = al.plot.sensitivity(tail)"),
        ("md", "Latency against task success (the scenarios' `expected:` outcome, tools "
               "and events), one point per config, with the Pareto frontier."),
        ("code", CHECK + """success = al.analysis.task_success(rec, "scenarios")
points = (turns.groupby("config", observed=True)["first_answer_audio_ms"].quantile(0.95)
          .rename("p95_first_answer_ms").to_frame()
          .join(success.groupby("config", observed=True)["success"].mean())
          .reset_index())
points.round(3)"""),
        ("code", """_ = al.plot.pareto(points, "p95_first_answer_ms", "success")"""),
        ("md", "A latency budget that acts while the turn is in flight: at 1.2 s after "
               "the caller stopped, if the answer's audio is not out, a `latency_budget` "
               "hook says a filler. `first_audio_ms` (any agent audio) now differs from "
               "`first_answer_audio_ms` in exactly the turns where the budget fired."),
        ("code", CHECK + """budget = al.Experiment(configs=[speculation, speculation_filler],
                       scenarios="scenarios", repeats=10, seed=0).run(progress=False)
b = budget.turns
b.groupby(["config", "budget_warning"], observed=True)[
    ["first_audio_ms", "first_answer_audio_ms"]].median().round(0)"""),
        ("md", "The filler is not free: the answer waits for it to finish (one voice at a "
               "time), so over all turns the caller hears *something* sooner and the "
               "answer later."),
        ("code", CHECK + """b.groupby("config", observed=True)[
    ["first_audio_ms", "first_answer_audio_ms"]].median().round(0)"""),
    ],
}


def build(name: str, cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for kind, src in cells:
        nb.cells.append(nbformat.v4.new_markdown_cell(src) if kind == "md"
                        else nbformat.v4.new_code_cell(src))
    return nb


def main(names: list[str]) -> int:
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = build(name, cells)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

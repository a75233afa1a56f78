"""The inline executor fires exactly what the task executor fires, on the same programs.

A turn with no ``stt``/``tts``/``llm`` hook and no awaited hook on the reply's events runs
inline (``runtime/executors.py``: one loop, the clock moved between waits); registering
pass-through ``stt`` and ``tts`` hooks runs the same reply programs as tasks (a queue,
async generators, PCM chunks through the ``tts`` slot) on the same draws. Both
must give the same events at the same instants (the same microsecond of the virtual
clock), the same transcripts and spoken text.
"""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

import agentlab as al
from agentlab.hooks import run_stt, run_tts

TEXTS = ["Hi.", "Where is my order?", "Cancel it please, right now.", "Yes.",
         "I ordered a blue jacket last week and it still has not arrived, can you check?"]


def make_runner(streamed: bool, end_after_turn: int | None = None,
                blocking_agent_hook: bool = False, turn_taking: dict | None = None):
    options = {} if turn_taking is None else {
        "turn_detector": al.sim.TurnDetector(**turn_taking),
        "preemptive_generation": True}
    pipeline = al.Pipeline(stt=al.sim.STT(partial_every_ms=300), llm=al.sim.LLM(),
                           tts=al.sim.TTS(chunk_ms=250), **options)
    if streamed:
        @pipeline.on("stt")
        async def same_stt(audio_stream):
            async for event in run_stt(audio_stream):
                yield event

        @pipeline.on("tts")
        async def same_tts(text_stream):
            async for pcm in run_tts(text_stream):
                yield pcm

    async def handle_call(ctx):
        turns = []

        if end_after_turn is not None:  # else no session hook: every step plays inline
            @ctx.session.on("user_turn")
            async def maybe_end(text):
                turns.append(text)
                if len(turns) > end_after_turn:
                    await ctx.session.end("ended")

        if blocking_agent_hook:
            @ctx.session.on("agent_turn")
            async def takes_no_time(text):
                pass

        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)


def comparable(sim):
    rows = []
    for e in sim.events:
        if e.name == "hook_call":
            continue
        row = {f: getattr(e, f) for f in e.__dataclass_fields__
               if f not in ("seq", "exception")}
        if e.name == "turn_end":
            row["segments"] = tuple(name for name, _ in e.segments)
            row["seg_ms"] = [ms for _, ms in e.segments]
        rows.append(row)
    return rows


def assert_same(planned, streamed):
    a, b = comparable(planned), comparable(streamed)
    assert [r["name"] for r in a] == [r["name"] for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:  # the same microsecond, not merely close
            same = x[key] == y[key] or (isinstance(x[key], float) and math.isnan(x[key])
                                         and math.isnan(y[key]))
            assert same, (key, x, y)
    assert [c.spoken for c in planned.calls] == [c.spoken for c in streamed.calls]


def names(sim):
    return [type(e).__name__ for e in sim.events if e.name != "hook_call"]


@settings(max_examples=60, deadline=None)
@given(script=st.lists(st.fixed_dictionaries({
    "text": st.sampled_from(TEXTS),
    "pause_ms": st.floats(0, 10_000),
    "barge_in_ms": st.one_of(st.none(), st.floats(0, 6000))}), min_size=1, max_size=6),
    seed=st.integers(0, 10_000), profile=st.sampled_from(al.available_profiles()),
    end_after=st.one_of(st.none(), st.integers(0, 5)))
def test_inline_reply_fires_what_the_reply_as_tasks_fires(script, seed, profile, end_after):
    planned = al.simulate_sync(make_runner(False, end_after), script, seed=seed,
                               profile=profile)
    streamed = al.simulate_sync(make_runner(True, end_after), script, seed=seed,
                                profile=profile)
    assert_same(planned, streamed)


@settings(max_examples=25, deadline=None)
@given(script=st.lists(st.fixed_dictionaries({
    "text": st.sampled_from([*TEXTS, "I want to move ... my booking to Friday.",
                             "Hold on... let me... check."]),
    "pause_ms": st.floats(0, 3000),
    "barge_in_ms": st.one_of(st.none(), st.floats(0, 6000))}), min_size=1, max_size=5),
    seed=st.integers(0, 10_000),
    detector=st.sampled_from([{"eager": True}, {"eager": True, "mode": "dynamic"},
                              {"mode": "dynamic", "min_delay_ms": 300}]))
def test_speculation_and_eager_ends_fire_the_same_inline_and_as_tasks(script, seed, detector):
    planned = al.simulate_sync(make_runner(False, turn_taking=detector), script, seed=seed)
    streamed = al.simulate_sync(make_runner(True, turn_taking=detector), script, seed=seed)
    assert_same(planned, streamed)


def test_an_awaited_reply_hook_streams_the_reply_with_the_same_events():
    script = ["Where is my order?", {"text": "Stop.", "barge_in_ms": 900}, "Thanks."]
    planned = al.simulate_sync(make_runner(False), script, calls=3, seed=4)
    held = al.simulate_sync(make_runner(False, blocking_agent_hook=True), script, calls=3,
                            seed=4)
    assert_same(planned, held)
    assert "Interruption" in names(planned)


def test_a_barge_in_that_never_came_does_not_cut_a_later_reply():
    # The caller's second turn would start 9 s into the first reply, which has ended by
    # then; that instant falls inside the second reply and must not interrupt it.
    script = ["Where is my order?", {"text": "Yes.", "barge_in_ms": 9000, "pause_ms": 300},
              "Thanks."]
    for streamed in (False, True):
        sim = al.simulate_sync(make_runner(streamed), script, seed=1)
        assert "Interruption" not in names(sim)
        assert not any(e.interrupted for e in sim.events if e.name == "turn_end")

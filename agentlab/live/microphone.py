"""The browser microphone as a caller (anywidget).

getUserMedia -> AudioContext at 16 kHz -> an AudioWorklet -> Int16 chunks sent to Python
as binary buffers (REFERENCE §5). Python keeps the audio and cuts it into utterances with
the VAD; a live call can take its caller turns from it (:meth:`Microphone.turns`), or
hear it as it arrives (``MicrophoneCaller(mic, stream=True)``: full duplex).
"""

from __future__ import annotations

import threading
from typing import Any

import anywidget
import numpy as np
import traitlets

from .audio import SAMPLE_RATE
from .stream import LiveAudio, StreamCaller

_JS = r"""
const WORKLET = `
class Tap extends AudioWorkletProcessor {
  constructor() { super(); this.buf = []; this.n = 0; }
  process(inputs) {
    const ch = inputs[0][0];
    if (ch) { this.buf.push(new Float32Array(ch)); this.n += ch.length; }
    if (this.n >= 1600) {                      // 100 ms at 16 kHz
      const out = new Int16Array(this.n); let i = 0;
      for (const b of this.buf) for (const x of b) out[i++] = Math.max(-1, Math.min(1, x)) * 32767;
      this.port.postMessage(out.buffer, [out.buffer]); this.buf = []; this.n = 0;
    }
    return true;
  }
}
registerProcessor("agentlab-tap", Tap);`;

export default {
  render({ model, el }) {
    const button = document.createElement("button");
    const label = document.createElement("span");
    button.className = "agentlab-mic";
    let ctx = null, stream = null;
    const show = () => {
      button.textContent = ctx ? "Stop microphone" : "Start microphone";
      label.textContent = "  " + model.get("status");
    };
    model.on("change:status", show);
    button.onclick = async () => {
      if (ctx) {
        stream.getTracks().forEach((t) => t.stop()); await ctx.close(); ctx = null;
        model.send({ type: "stopped" }); show(); return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
        ctx = new AudioContext({ sampleRate: 16000 });
        const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
        await ctx.audioWorklet.addModule(url);
        const tap = new AudioWorkletNode(ctx, "agentlab-tap");
        tap.port.onmessage = (e) => model.send({ type: "pcm" }, undefined, [e.data]);
        ctx.createMediaStreamSource(stream).connect(tap);
        model.send({ type: "started", rate: ctx.sampleRate });
      } catch (err) {
        model.send({ type: "error", message: String(err) }); ctx = null;
      }
      show();
    };
    el.append(button, label); show();
  },
};
"""


class Microphone(anywidget.AnyWidget):
    """A start/stop button that streams the browser microphone into Python as 16 kHz PCM.

    ``mic.audio()`` is everything received (float32); ``mic.utterances()`` the speech
    stretches the VAD finds; ``mic.turns()`` feeds them to a live call as caller turns.
    """

    _esm = _JS
    status = traitlets.Unicode("microphone off").tag(sync=True)

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._chunks: list[np.ndarray] = []
        self._rate_ok = True
        self._lock = threading.Lock()
        self.stream = LiveAudio()  # the same audio as it arrives, for a streamed call
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "pcm" and self._rate_ok:
            for buf in buffers:
                x = np.frombuffer(bytes(buf), "<i2").astype(np.float32) / 32768.0
                with self._lock:
                    self._chunks.append(x)
                self.stream.append(x)
            self.status = f"listening: {self.seconds():.1f} s received"
        elif kind == "started":
            rate = int(content.get("rate", SAMPLE_RATE))
            self._rate_ok = rate == SAMPLE_RATE  # chunks at another rate are not kept
            if self.stream.closed:
                self.stream = LiveAudio()
            self.status = "listening" if self._rate_ok else \
                f"the browser gave {rate} Hz audio, not 16 kHz; refused"
        elif kind == "stopped":
            self.stream.close()
            self.status = f"stopped: {self.seconds():.1f} s received"
        elif kind == "error":
            self.status = f"microphone error: {content.get('message')}"

    def feed(self, pcm16: bytes) -> None:
        """Add PCM as the browser would (for tests and for audio from elsewhere)."""
        self._message(self, {"type": "pcm"}, [pcm16])

    def audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    def seconds(self) -> float:
        with self._lock:
            return sum(len(c) for c in self._chunks) / SAMPLE_RATE

    def utterances(self, vad: Any = None) -> list[np.ndarray]:
        """The stretches of speech received so far."""
        from .models import SileroVAD

        x = self.audio()
        if not len(x):
            return []
        segs = (vad or SileroVAD()).segments(x)
        pad = int(0.2 * SAMPLE_RATE)
        return [x[max(0, int(a * SAMPLE_RATE) - pad):int(b * SAMPLE_RATE) + pad]
                for a, b in segs]

    def turns(self) -> list[Any]:
        """The utterances as caller turns for ``live.run_live`` (a finished recording)."""
        from ..runtime.caller import CallerTurn

        silence = np.zeros(int(0.6 * SAMPLE_RATE), np.float32)
        return [CallerTurn(f"(microphone {i + 1})", 600.0,
                           audio=np.concatenate([u, silence]))
                for i, u in enumerate(self.utterances())]

    def __repr__(self) -> str:
        return f"Microphone({self.status!r})"


class MicrophoneCaller:
    """A caller whose turns are what was said into a :class:`Microphone`: a finished
    recording's utterances, or with ``stream=True`` the microphone as it is spoken into
    (full duplex: the VAD cuts the turns, the caller can talk over the agent; run the
    call with ``realtime=True`` as a task, ``asyncio.ensure_future(live.run_live(...))``,
    so the kernel keeps receiving the audio)."""

    def __init__(self, mic: Microphone, stream: bool = False):
        self.mic = mic
        self.stream_caller = StreamCaller(mic.stream) if stream else None

    async def next_turn(self) -> Any:
        return None if self.stream_caller is None else await self.stream_caller.next_turn()

    def turns(self) -> list[Any]:
        if self.stream_caller is not None:
            return []
        found = self.mic.turns()
        if not found:
            from .audio import AudioError

            raise AudioError("the microphone has no speech yet: press Start, speak, then "
                             "Stop before running the call.")
        return found

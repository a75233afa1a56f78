"""The agent's voice in the browser (anywidget): a live call's audio played at the page as
it is produced.

Python sends each piece of the agent's audio as 16-bit PCM in a binary buffer; the page
hands it to an AudioWorklet that plays a queue of pieces at 16 kHz (no file, no
``<audio>`` element: playback starts with the first piece and follows synthesis); a
``clear`` (a barge-in) drops the queue at once, so the agent stops mid-word. The worklet
reports back what it played: when each reply's audio started and stopped at the page and
how many samples it played, stamped with the page's wall clock (``performance.timeOrigin
+ performance.now()``, the machine's clock, as Python's ``time.time()``), from which
:meth:`AgentVoice.perceived` gives the latency a person at the page heard.

The page's reports reach Python when the kernel is free to read them: a call awaited in a
cell has them once the cell is done.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import anywidget
import numpy as np

from .audio import SAMPLE_RATE, pcm16

_JS = r"""
const WORKLET = `
class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; this.offset = 0; this.played = 0; this.segment = null;
    this.playing = false; this.reported = 0;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "pcm") this.queue.push(m);
      else if (m.type === "hold") { this.held = m.held;
        this.port.postMessage({type: m.held ? "held" : "resumed", segment: this.segment,
                               frame: currentFrame, played: this.played}); }
      else if (m.type === "clear") {
        const dropped = this.queue.reduce((n, q) => n + q.samples.length, 0) - this.offset;
        this.queue = []; this.offset = 0; this.held = false;  // the next reply plays
        this.port.postMessage({type: "cleared", segment: this.segment, frame: currentFrame,
                               played: this.played, dropped: dropped});
      }
    };
  }
  process(inputs, outputs) {
    const out = outputs[0][0]; let i = 0;
    while (!this.held && i < out.length && this.queue.length) {
      const head = this.queue[0];
      if (head.segment !== this.segment || !this.playing) {
        this.segment = head.segment; this.playing = true;
        this.port.postMessage({type: "start", segment: head.segment,
                               frame: currentFrame + i, played: this.played});
      }
      const n = Math.min(out.length - i, head.samples.length - this.offset);
      out.set(head.samples.subarray(this.offset, this.offset + n), i);
      i += n; this.offset += n; this.played += n;
      if (this.offset >= head.samples.length) { this.queue.shift(); this.offset = 0; }
    }
    if (i < out.length) {
      out.fill(0, i);
      if (this.playing) {
        this.playing = false;
        this.port.postMessage({type: "idle", segment: this.segment, frame: currentFrame + i,
                               played: this.played});
      }
    }
    if (currentFrame - this.reported >= 1600) {
      this.reported = currentFrame;
      this.port.postMessage({type: "played", segment: this.segment, frame: currentFrame,
                             played: this.played});
    }
    return true;
  }
}
registerProcessor("agentlab-player", Player);`;

export default {
  async render({ model, el }) {
    const label = document.createElement("span");
    const button = document.createElement("button");
    button.className = "agentlab-voice";
    button.textContent = "Enable sound";
    const ctx = new AudioContext({ sampleRate: 16000 });
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    await ctx.audioWorklet.addModule(url);
    const node = new AudioWorkletNode(ctx, "agentlab-player", { outputChannelCount: [1] });
    node.connect(ctx.destination);
    // a worklet frame -> the page's wall clock (ms), through the output timestamp
    const wall = (frame) => {
      const ts = ctx.getOutputTimestamp();
      const perf = ts.performanceTime || performance.now();
      const at = ts.contextTime === undefined ? ctx.currentTime : ts.contextTime;
      return performance.timeOrigin + perf + (frame / ctx.sampleRate - at) * 1000;
    };
    node.port.onmessage = (e) => {
      const m = e.data;
      model.send({ type: m.type, segment: m.segment, played: m.played,
                   dropped: m.dropped || 0, wall_ms: wall(m.frame),
                   now_ms: performance.timeOrigin + performance.now() });
    };
    model.on("msg:custom", (msg, buffers) => {
      if (msg.type === "pcm") {
        const pcm = new Int16Array(buffers[0].buffer.slice(buffers[0].byteOffset,
                                   buffers[0].byteOffset + buffers[0].byteLength));
        const samples = new Float32Array(pcm.length);
        for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
        node.port.postMessage({ type: "pcm", segment: msg.segment, samples: samples },
                              [samples.buffer]);
      } else if (msg.type === "clear") {
        node.port.postMessage({ type: "clear" });
      } else if (msg.type === "hold") {
        node.port.postMessage({ type: "hold", held: msg.held });
      }
    });
    const show = () => {
      label.textContent = "  agent's voice: " + (ctx.state === "running" ? "on" : "off (click)");
      button.style.display = ctx.state === "running" ? "none" : "";
    };
    button.onclick = async () => { await ctx.resume(); show(); };
    ctx.onstatechange = () => { show(); model.send({ type: "state", state: ctx.state }); };
    await ctx.resume().catch(() => {});
    el.append(button, label); show();
    model.send({ type: "ready", state: ctx.state, rate: ctx.sampleRate });
  },
};
"""


class AgentVoice(anywidget.AnyWidget):
    """Plays a live call's agent audio at the page (pass it to ``live.run_live(...,
    voice=...)``) and keeps what the page reports about playing it."""

    _esm = _JS

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._lock = threading.Lock()
        self._reports: list[dict] = []
        self._sent: dict[int, float] = {}  # segment -> wall ms its first audio was sent
        self._cleared_at: list[tuple[int, float]] = []  # (segment, wall ms) clears sent
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: dict, _buffers: list) -> None:
        with self._lock:
            self._reports.append(dict(content))

    # -- what a live call does -------------------------------------------------------
    def play(self, segment: int, audio: np.ndarray) -> None:
        """Send one piece of the agent's audio (float32, 16 kHz) of reply ``segment``."""
        self._sent.setdefault(segment, 1000.0 * time.time())
        self.send({"type": "pcm", "segment": segment}, buffers=[pcm16(audio)])

    def hold(self, held: bool) -> None:
        """Pause (True) or resume (False) the page's playing, keeping its queue: caller
        speech over the agent, until it is an interruption or a false one."""
        self.send({"type": "hold", "held": held})

    def clear(self, segment: int) -> None:
        """Stop at once: drop whatever the page has not played yet (a barge-in)."""
        self._cleared_at.append((segment, 1000.0 * time.time()))
        self.send({"type": "clear", "segment": segment})

    # -- what the page reported ------------------------------------------------------
    def reports(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self._reports if kind is None or r.get("type") == kind]

    def samples_played(self) -> int:
        """Samples the page has played so far (its last report)."""
        played = [r["played"] for r in self.reports() if "played" in r]
        return int(max(played)) if played else 0

    def seconds_played(self) -> float:
        return self.samples_played() / SAMPLE_RATE

    def starts(self) -> dict[int, float]:
        """Wall ms at which each reply's audio started playing at the page."""
        out: dict[int, float] = {}
        for r in self.reports("start"):
            out.setdefault(int(r["segment"]), float(r["wall_ms"]))
        return out

    def perceived(self, speech_end_wall_ms: dict[int, float]) -> dict[int, float]:
        """Per reply: ms from the end of the caller's speech (wall ms, per segment) to
        the reply's first audio at the page."""
        starts = self.starts()
        return {seg: starts[seg] - end for seg, end in speech_end_wall_ms.items()
                if seg in starts}

    def stop_delays(self) -> list[float]:
        """Per clear: ms from Python sending it to the page's worklet dropping the audio
        (its ``cleared`` report), on the machine's wall clock."""
        cleared = self.reports("cleared")
        return [float(page["wall_ms"]) - sent
                for (_, sent), page in zip(self._cleared_at, cleared, strict=False)]

    def __repr__(self) -> str:
        return f"AgentVoice({self.seconds_played():.1f} s played at the page)"

"""The caller as one continuous audio stream (the microphone): full duplex.

A scripted caller's turns each bring their audio; a person at a microphone does not: the
audio arrives as it is spoken, also while the agent speaks, and only the VAD can say where
a turn ends. :class:`LiveAudio` is that stream (chunks appended from any thread, read by
the call as they arrive); :class:`StreamCaller` cuts it into turns as the call goes: each
turn's audio is a :class:`StreamView` starting where the previous turn's listening
stopped, and every reply is listened over from its first moment (``barge_in_ms`` 0), so
the caller can talk over the agent at any time (live/duplex.py) and nothing said between
turns is lost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE

QUIET_LIMIT_S = 10.0  # no audio at all for this long ends the call


class LiveAudio:
    """16 kHz mono float32 audio arriving in chunks: ``append`` from the producer's
    thread, ``wait_for`` / slicing from the call's event loop."""

    def __init__(self) -> None:
        self._buf = np.zeros(SAMPLE_RATE * 60, np.float32)
        self._n = 0
        self._closed = False
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self.first_at: float | None = None  # time.monotonic() when sample 0 began

    def append(self, x: np.ndarray) -> None:
        with self._lock:
            if self._closed:
                return
            if self.first_at is None:
                self.first_at = time.monotonic() - len(x) / SAMPLE_RATE
            while self._n + len(x) > len(self._buf):  # grow by doubling: amortized O(1)
                self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)])
            self._buf[self._n:self._n + len(x)] = x
            self._n += len(x)
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_wake, fut)

    def close(self) -> None:
        """No more audio (the microphone stopped): a call waiting for it ends."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_wake, fut)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return self._n

    def samples(self, a: int, b: int) -> np.ndarray:
        with self._lock:
            return self._buf[max(0, a):min(b, self._n)].copy()

    async def wait_for(self, n: int, timeout_s: float = QUIET_LIMIT_S) -> bool:
        """Until ``n`` samples have arrived (True) or the stream closed (False); an
        AudioError when nothing arrives for ``timeout_s``."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._n >= n:
                    return True
                if self._closed:
                    return False
                fut = loop.create_future()
                self._waiters.append((loop, fut))
            try:
                await asyncio.wait_for(fut, timeout_s)
            except TimeoutError:
                from .audio import AudioError

                raise AudioError(
                    f"no caller audio arrived for {timeout_s:.0f} s. In a notebook, start a "
                    f"microphone call with asyncio.ensure_future(live.run_live(...)) so the "
                    f"kernel is free to receive the audio, and press Start on the "
                    f"microphone.") from None


def _wake(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


class StreamView:
    """The stream from ``offset`` on: one caller turn's audio (indexes are the turn's)."""

    finite = False

    def __init__(self, audio: LiveAudio, offset: int):
        self.audio, self.offset = audio, offset

    def __len__(self) -> int:
        return max(0, len(self.audio) - self.offset)

    def __getitem__(self, cut: slice) -> np.ndarray:
        a = self.offset + (cut.start or 0)
        b = self.offset + (len(self) if cut.stop is None else cut.stop)
        return self.audio.samples(a, b)

    async def wait_for(self, n: int) -> bool:
        return await self.audio.wait_for(self.offset + n)

    def start_ms(self, conv: Any) -> float:
        """The session time at which this view's first sample was spoken."""
        first = self.audio.first_at if self.audio.first_at is not None else time.monotonic()
        at = first + self.offset / SAMPLE_RATE
        return conv.now() - 1000.0 * (time.monotonic() - at)


class StreamCaller:
    """A caller whose audio is one :class:`LiveAudio` stream: turns are cut from it as the
    call goes (``live.MicrophoneCaller(mic, stream=True)``)."""

    def __init__(self, audio: LiveAudio, name: str = "microphone"):
        self.audio, self.name = audio, name
        self.offset = 0  # where the next turn's audio starts in the stream
        self._upcoming: Any = None
        self._count = 0

    def turns(self) -> list:
        return []  # none known in advance: next_turn cuts them from the stream

    def upcoming(self) -> Any:
        """The turn after the current one (the same object until it is played): its audio
        starts where the current turn's listening stopped."""
        from ..runtime.caller import CallerTurn

        if self._upcoming is None:
            self._count += 1
            self._upcoming = CallerTurn(f"({self.name} {self._count})", 0.0,
                                        interrupt_reply_ms=0.0,
                                        audio=StreamView(self.audio, self.offset))
        return self._upcoming

    def consumed(self, view: StreamView, samples: int) -> None:
        """A turn's listening stopped ``samples`` into ``view``: the next turn starts
        there."""
        self.offset = view.offset + samples
        if self._upcoming is not None and self._upcoming.audio.offset < self.offset:
            self._upcoming.audio.offset = self.offset

    async def next_turn(self) -> Any:
        if self.audio.closed and len(self.audio) <= self.offset:
            return None  # the caller stopped and everything said was heard
        turn, self._upcoming = self.upcoming(), None
        return turn

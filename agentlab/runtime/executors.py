"""The two ways to run ``reply_program.py``'s programs; both give the same events at the
same instants (``tests/runtime/test_fast_path.py`` and the golden tables hold them to it).

* :func:`run_inline`, when nothing can suspend (no ``tts``/``llm`` hook, no awaited hook
  on the speech's events): one loop steps the programs, a small timer queue orders their
  waits (FIFO at equal instants, as the event loop's timers), and the clock moves between
  them (``VirtualTimeLoop.advance``: no task, queue, async generator or PCM). When
  something else on the loop is due first it really sleeps: it hands over at the loop's
  horizon, as ``Conversation.play`` does.
* :func:`run_tasks`: each program in its own task, each wait a real sleep, the text in an
  ``asyncio.Queue``, the audio through the ``tts`` slot (the hook sees real PCM) and the
  text through the ``llm`` chain.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from .ending import CallEnded
from .reply_program import AWAIT, CHAIN, CLOSE, EMIT, GET, OUT, PULL, PUT, WAIT, Speech, wake_at


async def run_inline(conv: Any, speech: Speech, tts_stage: Callable, programs: list,
                     text: Iterable[str] | None = None) -> None:
    """Run ``programs`` (the speaker first, then the LLM side if any) inline; the speaker
    PULLs audio from ``tts_stage()``, which GETs ``text`` (or what the LLM side PUTs).

    A task is a stack of generators: the speaker, with the TTS stage on top while the
    speaker PULLs from it. One loop resumes the tasks, ready ones first, then the next
    timer (FIFO at equal instants); the simulator's hottest loop, so it is one function."""
    bus = conv.session.bus
    now, emit_now, advance = bus.now_ms, bus.emit_now, conv.advancer()
    heappush, heappop = heapq.heappush, heapq.heappop
    tts = tts_stage()
    tts_done = False
    channel = text is None                # the LLM side PUTs the text
    texts: Any = deque() if channel else iter(text)
    getter = None                         # the task waiting for text
    offered = speech.offered
    ready: deque = deque()                # (task, value, exception) to resume now
    timers: list = []                     # (at_ms, seq, task)
    seq = 0
    failed: dict[int, BaseException] = {}  # id(task) -> what it raised
    tasks = [[program] for program in programs]
    ready.extend((task, None, None) for task in tasks)
    cancelled = False
    while ready or timers:
        if ready:
            task, value, exc = ready.popleft()
        else:  # the clock moves to the next wait's end (really sleeps if due first)
            at, _, task = heappop(timers)
            value = exc = None
            wait = at - now()
            if wait > 0 and not advance(wait / 1000.0):
                try:
                    await conv.sleep(wait)
                except BaseException as err:
                    exc = err
            if exc is None and conv.ending:
                exc = CallEnded(conv.ending)
        gen = task[-1]
        while True:  # resume the task until it waits or ends
            try:
                op = gen.send(value) if exc is None else gen.throw(exc)
            except StopIteration:
                op = exc = None
            except BaseException as err:
                op, exc = None, err
            if op is None:  # gen ended: the one below resumes (a PULL gets None)
                task.pop()
                if gen is tts:
                    tts_done = True
                if task:
                    gen, value = task[-1], None
                    continue
                if exc is not None:
                    failed[id(task)] = exc
                break
            value = exc = None
            kind = op[0]
            if kind == EMIT:
                try:
                    if not emit_now(op[1], *op[2]):
                        await bus.emit(op[1], *op[2])
                except BaseException as err:
                    exc = err
            elif kind == WAIT:
                if conv.ending:
                    exc = CallEnded(conv.ending)
                elif op[1] > 0:
                    seq += 1
                    heappush(timers, (wake_at(now(), op[1]), seq, task))
                    break
            elif kind == OUT:
                task.pop()
                gen, value = task[-1], op[2]
            elif kind == PULL:
                if not tts_done:
                    task.append(tts)
                    gen = tts
            elif kind == GET:
                if not channel:
                    value = next(texts, None)
                elif texts:
                    value = texts.popleft()
                else:
                    getter = task
                    break
                if value is not None:
                    offered.append(value)
            elif kind == PUT:
                if getter is not None:  # it runs once this program waits
                    ready.append((getter, op[1], None))
                    getter = None
                    if op[1] is not None:
                        offered.append(op[1])
                else:
                    texts.append(op[1])
            elif kind == CLOSE:
                if not tts_done:
                    tts.close()
                    tts_done = True
            else:
                try:
                    value = await (bus.run_chain(op[1], op[2]) if kind == CHAIN
                                   else op[1]())
                except BaseException as err:
                    exc = err
        if isinstance(exc, asyncio.CancelledError) or (
                not task and isinstance(failed.get(id(task)), asyncio.CancelledError)):
            cancelled = True
        if cancelled and task is not tasks[0] and tasks[0]:
            # this run's task was cancelled (Conversation.stop) while another program
            # waited: the speaker gets the cancel where it waits, as in the task executor
            speaker = tasks[0]
            ready = deque(entry for entry in ready if entry[0] is not speaker)
            timers = [entry for entry in timers if entry[2] is not speaker]
            heapq.heapify(timers)
            if getter is speaker:
                getter = None
            ready.appendleft((speaker, None, asyncio.CancelledError()))
            cancelled = False
        if not task and task is tasks[0] and id(task) in failed:
            # the speaker failed: the LLM side is cancelled where it is, as the task
            # executor cancels its task
            waiting = [t for t, _, _ in ready] + [t for _, _, t in sorted(timers)]
            timers.clear()
            ready.clear()
            ready.extend((t, None, asyncio.CancelledError()) for t in waiting)
        elif conv.ending and timers:
            # the call ended: every waiting program wakes with CallEnded now, as end()
            # wakes every sleep
            ready.extend((t, None, CallEnded(conv.ending)) for _, _, t in sorted(timers))
            timers.clear()
    if id(tasks[0]) in failed:
        raise failed[id(tasks[0])]
    for task in tasks[1:]:
        err = failed.get(id(task))
        if err is not None and not isinstance(err, asyncio.CancelledError):
            raise err


async def run_tasks(conv: Any, speech: Speech, tts_stage: Callable, speaker: Any,
                    text: Iterable[str] | None = None, reply_text: Any = None) -> None:
    """Run the speaker in this task over the ``tts`` slot, and the LLM side (if any) in
    its own; ``text`` is the fixed text to speak when there is no LLM side."""
    run = _Tasks(conv)
    if reply_text is None:
        await run.speak(speech, tts_stage, speaker, given_text(text))
        return
    run.queue = asyncio.Queue()
    gen_task = asyncio.ensure_future(run.drive(reply_text))
    try:
        await run.speak(speech, tts_stage, speaker, run.queued())
        await gen_task
    finally:
        if not gen_task.done():
            gen_task.cancel()
            await asyncio.gather(gen_task, return_exceptions=True)


async def run_program(conv: Any, program: Any) -> None:
    """Run one program in this task, every operation awaited."""
    await _Tasks(conv).drive(program)


class _Tasks:
    """The task executor: every operation awaited."""

    def __init__(self, conv: Any):
        self.conv, self.bus = conv, conv.session.bus
        self.queue: asyncio.Queue | None = None
        self.audio: Any = None

    async def speak(self, speech: Speech, tts_stage: Callable, speaker: Any,
                    text: AsyncIterator[str]) -> None:
        async def offered() -> AsyncIterator[str]:
            async for chunk in text:
                speech.offered.append(chunk)
                yield chunk

        def builtin_tts(stream: AsyncIterator[str]) -> AsyncIterator[bytes]:
            return self.stream(tts_stage(), stream)

        self.audio = self.bus.stream_slot("tts", builtin_tts, offered())
        await self.drive(speaker)

    async def drive(self, program: Any) -> None:
        async for _ in self.stream(program):
            pass

    async def stream(self, program: Any, text: AsyncIterator | None = None) -> AsyncIterator:
        """Run ``program``, awaiting each operation; its audio (OUT) is yielded as PCM, so
        the TTS stage is the async generator the ``tts`` slot expects."""
        conv, bus = self.conv, self.bus
        value = exc = None
        try:
            while True:
                try:
                    op = program.send(value) if exc is None else program.throw(exc)
                except StopIteration:
                    return
                value = exc = None
                kind = op[0]
                if kind == OUT:
                    for ms in op[1]:
                        yield conv.tts.pcm(ms, silent=op[3])
                    continue
                try:
                    if kind == WAIT:
                        await conv.sleep(op[1])
                    elif kind == EMIT:
                        await bus.emit(op[1], *op[2])
                    elif kind == PUT:
                        self.queue.put_nowait(op[1])
                    elif kind == GET:
                        value = await _next(text)
                    elif kind == PULL:
                        pcm = await _next(self.audio)
                        value = None if pcm is None else (
                            len(pcm) / (2 * conv.tts.sample_rate / 1000.0),)
                    elif kind == CLOSE:
                        await self.audio.aclose()
                    elif kind == CHAIN:
                        value = await bus.run_chain(op[1], op[2])
                    elif kind == AWAIT:
                        await op[1]()
                except BaseException as err:
                    exc = err
        finally:
            program.close()

    async def queued(self) -> AsyncIterator[str]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk


async def given_text(text: Iterable[str]) -> AsyncIterator[str]:
    """A fixed text (``say()``'s) as the async stream a ``tts`` slot reads."""
    for chunk in text:
        yield chunk


async def _next(stream: AsyncIterator) -> Any:
    """The next item, None at the end (awaiting ``__anext__`` itself, so the deadlock
    report can follow the await chain into the stream)."""
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None

"""Work the agent runs beside the call: memory extraction, sub-agents, the camera's
``vision_frame`` stream. Each runs in its own task; the session waits for it (or cancels
it on ``stop()``) before it closes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from .. import events as ev
from ..components import VideoFrame
from .ending import ENDED


class BackgroundWork:
    """Background tasks of one call (a part of :class:`Conversation`)."""

    def start_background(self, coro: Any) -> None:
        """Run ``coro`` alongside the call; the session waits for it (or cancels it on
        stop()) before it closes."""
        self.background_tasks.append(asyncio.ensure_future(coro))

    async def extract_memory(self, texts: list[str], duration_ms: float) -> None:
        start = self.now()
        try:
            await self.sleep(duration_ms)
        except ENDED:
            return
        facts = sum(1 for t in texts if _FACT.search(t))
        ctx = self.session.bus.context
        await self.session.bus.emit(ev.MemoryExtraction, getattr(ctx, "user_number", ""),
                                    facts, self.now() - start)

    async def run_subagent(self, sub: Any) -> None:
        for step in range(1, sub.steps + 1):
            try:
                await self.sleep(sub.step_ms)
            except ENDED:
                return
            await self.session.bus.emit(ev.SubagentStep, sub.name, step, sub.tokens_per_step,
                                        sub.tool_calls)

    async def watch(self, camera: Any) -> None:
        """Feed camera frames through the ``vision_frame`` chain for the whole call; the
        newest processed frame is ``latest_frame`` (what a vision LLM would be sent)."""
        period_ms = 1000.0 / camera.fps

        async def frames() -> AsyncIterator[VideoFrame]:
            index = 0
            while not self.ending:
                yield VideoFrame(round(self.now()), camera.width, camera.height, index)
                index += 1
                try:
                    await self.sleep(period_ms)
                except ENDED:
                    return

        async for frame in self.session.bus.chained_stream("vision_frame", frames()):
            self.latest_frame = frame
            self.frames_seen += 1


_FACT = re.compile(r"\b(my|i'm|i am|we|our)\b|\d", re.IGNORECASE)

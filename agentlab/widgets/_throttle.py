"""Rate limiting for widget updates (text <= 10 Hz, plots <= 2-5 Hz; REFERENCE §5)."""

from __future__ import annotations

import time


class Throttle:
    """``ready()`` is True at most once per ``interval_s``; callers still push a final
    update themselves when their work ends."""

    def __init__(self, interval_s: float):
        self.interval_s = interval_s
        self._last = float("-inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            return True
        return False

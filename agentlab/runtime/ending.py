"""How a call's end reaches the code running inside it."""

import asyncio


class CallEnded(BaseException):
    """Raised inside the conversation when the call has ended (hang-up, end(), transfer).

    A BaseException, as ``asyncio.CancelledError`` is: it is how the call's end unwinds
    the code running in it, not a failure, so the ``except Exception`` that isolates a
    hook (or guards user code) lets it through instead of recording the hang-up as that
    hook's error."""


# CallEnded comes out of a session sleep; the cancel of Conversation.stop() out of any
# other await (a hook's own sleep, a future nothing resolves). Code that must close what
# it opened (speech in progress, a running tool) handles both.
ENDED = (CallEnded, asyncio.CancelledError)


class CallFinished:
    """Set once the call's ``session_end`` has fired. Like an ``asyncio.Event``, but its
    one future can be waited on directly (``bounded_wait({entry, finished.future()})``)
    instead of through a task running ``Event.wait()``."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future | None = None

    def future(self) -> asyncio.Future:
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        return self._future

    def set(self) -> None:
        future = self.future()
        if not future.done():
            future.set_result(None)

    def is_set(self) -> bool:
        return self._future is not None and self._future.done()

    async def wait(self) -> None:
        # shielded: a waiter cancelled mid-wait must not cancel the one shared future
        await asyncio.shield(self.future())

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

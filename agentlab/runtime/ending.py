"""How a call's end reaches the code running inside it."""

import asyncio


class CallEnded(Exception):
    """Raised inside the conversation when the call has ended (hang-up, end(), transfer)."""


# CallEnded comes out of a session sleep; the cancel of Conversation.stop() out of any
# other await (a hook's own sleep, a future nothing resolves). Code that must close what
# it opened (speech in progress, a running tool) handles both.
ENDED = (CallEnded, asyncio.CancelledError)

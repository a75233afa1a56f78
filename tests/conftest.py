import asyncio

import pytest


@pytest.fixture
def run():
    """Run a coroutine to completion on a fresh event loop."""
    return asyncio.run

# Made with Pipecat in a venv of its own (make trace-fixtures); the suite reads its output.
collect_ignore_glob = ["data/traces/*.py"]

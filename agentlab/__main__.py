"""``python -m agentlab``: command line entry point."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentlab",
                                     description="Prototype voice-agent hooks and measure them.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="play a scripted call through the hook engine and print "
                                "what fired")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run()
    return 2  # pragma: no cover - argparse rejects unknown commands first


if __name__ == "__main__":
    sys.exit(main())

"""Serve the reference MCP server.

``python -m duomcp.testing [--host H] [--port P] [--json] [--era legacy|modern|dual] [--tasks]``

Prints the endpoint URL on one line, then serves until interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from ._server import Era, ReferenceServer, ServerFaults


async def _serve(
    host: str, port: int, json_replies: bool, era: Era = "legacy", tasks: bool = False
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)  # not on Windows: Ctrl-C still works
    faults = ServerFaults(reply_mode="json" if json_replies else "sse")
    async with ReferenceServer(faults=faults, host=host, port=port, era=era, tasks=tasks) as server:
        print(server.url, flush=True)
        await stop.wait()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m duomcp.testing", description="Serve the duomcp reference MCP server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port, 0 for any (default 8000)")
    parser.add_argument("--json", action="store_true", help="answer requests with JSON, not SSE")
    parser.add_argument(
        "--era",
        choices=("legacy", "modern", "dual"),
        default="legacy",
        help="protocol era: legacy (initialize, sessions), modern (2026-07-28) or dual",
    )
    parser.add_argument(
        "--tasks", action="store_true", help="offer tasks and the task tools (slow_compute...)"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.json, args.era, args.tasks))


if __name__ == "__main__":
    main()

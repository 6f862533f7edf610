"""Serve the reference MCP server: ``python -m duomcp.testing [--host H] [--port P] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ._server import ReferenceServer, ServerFaults


async def _serve(host: str, port: int, json_replies: bool) -> None:
    faults = ServerFaults(reply_mode="json" if json_replies else "sse")
    async with ReferenceServer(faults=faults, host=host, port=port) as server:
        print(server.url, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m duomcp.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--json", action="store_true", help="answer with JSON, not SSE")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.json))


if __name__ == "__main__":
    main()

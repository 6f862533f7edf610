"""The blocking Client where an event loop is already running, as in a Jupyter cell.

Jupyter runs every cell inside a running event loop, so ``asyncio.run(...)`` fails there
("cannot be called from a running event loop"). duomcp's blocking ``Client`` works anyway:
it runs its engine on a private loop. This script recreates that situation with an
``async def`` that calls the blocking client, so it runs outside Jupyter too; in a
notebook, the body of ``cell`` is what you would type into a cell.

Run: .venv/bin/python examples/notebook_cell.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from duomcp import Client


def cell(url: str) -> None:
    asyncio.get_running_loop()  # a loop is running here, as in a notebook
    with Client(url, timeout=10) as client:
        result = client.call_tool("add", {"a": 40, "b": 2})
        print("answer:", result.structured_content)
        for tool in client.list_tools()[:3]:
            print(f"  {tool.name}: {tool.description}")


async def kernel(url: str) -> None:
    """Stands in for the Jupyter kernel: runs the cell while its loop is running."""
    pending = asyncio.sleep(0)
    try:
        asyncio.run(pending)
    except RuntimeError as error:
        pending.close()
        print(f"asyncio.run here fails: {error}")
    cell(url)


def main() -> None:
    # The server runs in its own process: a blocking call in the loop's thread holds that
    # loop, so a server on the same loop could not answer.
    server = subprocess.Popen(
        [sys.executable, "-m", "duomcp.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        asyncio.run(kernel(server.stdout.readline().strip()))
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


if __name__ == "__main__":
    main()

"""A plain script with the blocking Client: no async, no event loop of your own.

The reference server runs in a child process (``python -m duomcp.testing``), as any
server you would connect to does.

Run: .venv/bin/python examples/blocking_script.py
"""

from __future__ import annotations

import subprocess
import sys

from duomcp import Client, JSONRPCError
from duomcp.types import TextContent, TextResourceContents


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "duomcp.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()  # the server prints its endpoint first
        with Client(url, timeout=10) as client:
            print(f"connected to {url}: {client.era} era, protocol {client.protocol_version}")
            print("tools:", ", ".join(tool.name for tool in client.list_tools()))

            result = client.call_tool("add", {"a": 2, "b": 3})
            print("add(2, 3) ->", result.structured_content)

            echoed = client.call_tool("echo", {"text": "hi"}).content[0]
            assert isinstance(echoed, TextContent)
            print("echo ->", echoed.text)

            failed = client.call_tool("fail")  # a tool's own failure is a result, not raised
            print("fail -> is_error:", failed.is_error)

            greeting = client.read_resource("mem://greeting").contents[0]
            assert isinstance(greeting, TextResourceContents)
            print("mem://greeting ->", greeting.text)

            prompt = client.get_prompt("greet", {"name": "Ada"})
            message = prompt.messages[0].content
            assert isinstance(message, TextContent)
            print("prompt greet ->", message.text)

            try:
                client.call_tool("no_such_tool")
            except JSONRPCError as error:  # the server refused the request itself
                print(f"no_such_tool -> JSONRPCError {error.code}")
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


if __name__ == "__main__":
    main()

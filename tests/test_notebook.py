"""A real Jupyter kernel (nbclient + ipykernel) runs a cell that uses the blocking Client.

The kernel's thread always has a running event loop, where ``asyncio.run`` fails: this is
the case the blocking client's portal exists for. The server runs in its own process so
that the blocking call cannot starve it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import nbformat
import pytest
from nbclient import NotebookClient

CELL = """\
import asyncio, duomcp
asyncio.get_running_loop()  # the kernel runs a loop: asyncio.run would refuse here
with duomcp.Client(URL, timeout=10) as client:
    result = client.call_tool("add", {"a": 40, "b": 2})
assert result.structured_content == {"result": 42}, result
print("answer", result.structured_content["result"])
"""


@pytest.fixture
def server_process() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "duomcp.testing", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.timeout(120)
def test_blocking_client_in_a_jupyter_kernel(server_process: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"URL = {server_process!r}"),
        nbformat.v4.new_code_cell(CELL),
    ]
    started = time.monotonic()
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute(
        env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    )
    outputs = notebook.cells[1].outputs
    text = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
    assert "answer 42" in text, outputs
    assert time.monotonic() - started < 60

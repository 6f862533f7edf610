"""Starts the official SDK's server (tests/interop/mcp_server.py) in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("mcp_server.py")
START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module", params=["stateful", "stateless-json"])
def official_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """``(url, mode)`` of a running official-SDK server, in each mode."""
    mode = str(request.param)
    port = _free_port()
    # stderr goes to a file, not a pipe nobody drains (the SDK logs every session)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", str(port), "--mode", mode],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _accepts(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    stderr.seek(0)
                    pytest.fail(
                        f"the official server ({mode}) did not accept connections on port "
                        f"{port} within {START_TIMEOUT} s (exit code {proc.poll()}); "
                        f"stderr:\n{stderr.read()}"
                    )
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/mcp", mode
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

"""Starts official-SDK servers in subprocesses: tests/interop/mcp_server.py (mcp 2.3.0,
stateful and stateless-JSON) and tests/interop/eras_server.py (mcp 2.3.0 and 1.30.0)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from duomcp import StdioServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("mcp_server.py")
ERAS_SCRIPT = Path(__file__).with_name("eras_server.py")
# mcp 1.30.0 (legacy era only), installed by .ci/install-mcp-legacy.sh; never skipped.
LEGACY_SDK = ROOT / ".ci-cache" / "mcp-legacy"
START_TIMEOUT = 20.0


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


@contextlib.contextmanager
def _serving(
    what: str, script: Path, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """Run ``script --port N *args`` until the block ends; yields its URL and the first
    line it wrote to stderr once it accepts connections."""
    port = _free_port()
    # stderr goes to a file, not a pipe nobody drains (the SDK logs every session)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(script), "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=None if env is None else dict(env),
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _accepts(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    stderr.seek(0)
                    pytest.fail(
                        f"{what} did not accept connections on port {port} within "
                        f"{START_TIMEOUT} s (exit code {proc.poll()}); stderr:\n{stderr.read()}"
                    )
                time.sleep(0.05)
            stderr.seek(0)
            yield f"http://127.0.0.1:{port}/mcp", stderr.readline()
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="module", params=["stateful", "stateless-json"])
def official_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """``(url, mode)`` of a running official-SDK server, in each mode."""
    mode = str(request.param)
    with _serving(f"the official server ({mode})", SCRIPT, "--mode", mode) as (url, _):
        yield url, mode


@pytest.fixture(scope="module", params=["mcp-2.3.0", "mcp-1.30.0"])
def peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str]]:
    """``(url, sdk, era the client must find)`` of the era server on each SDK."""
    sdk = str(request.param)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if sdk == "mcp-1.30.0":
        assert (LEGACY_SDK / "mcp-1.30.0.dist-info").is_dir(), (
            f"mcp 1.30.0 is not installed in {LEGACY_SDK}: run bash .ci/install-mcp-legacy.sh"
        )
        env["PYTHONPATH"] = str(LEGACY_SDK)
    with _serving(f"the {sdk} server", ERAS_SCRIPT, env=env) as (url, banner):
        assert banner.startswith(f"mcp {sdk[4:]} "), banner  # the intended SDK runs
        yield url, sdk, "modern" if sdk == "mcp-2.3.0" else "legacy"


@pytest.fixture(scope="module", params=["mcp-2.3.0", "mcp-1.30.0"])
def sse_peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str]]:
    """``(url, sdk, "legacy")``: the era server on the deprecated HTTP+SSE transport."""
    sdk = str(request.param)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if sdk == "mcp-1.30.0":
        env["PYTHONPATH"] = str(LEGACY_SDK)
    with _serving(f"the {sdk} SSE server", ERAS_SCRIPT, "--sse", env=env) as (url, banner):
        assert banner.startswith(f"mcp {sdk[4:]} "), banner
        yield url.replace("/mcp", "/sse"), sdk, "legacy"


@pytest.fixture(params=["mcp-2.3.0", "mcp-1.30.0"])
def stdio_peer(request: pytest.FixtureRequest) -> Iterator[tuple[StdioServer, str, str]]:
    """``(server, sdk, era the client must find)``: the era server over stdio, each SDK.

    The client starts it (one process per client); its stderr goes to a file.
    """
    sdk = str(request.param)
    env = {"PYTHONPATH": str(LEGACY_SDK)} if sdk == "mcp-1.30.0" else {}
    with tempfile.TemporaryFile(mode="w+") as stderr:
        server = StdioServer(
            command=sys.executable, args=(str(ERAS_SCRIPT), "--stdio"), env=env, stderr=stderr
        )
        yield server, sdk, "modern" if sdk == "mcp-2.3.0" else "legacy"
        stderr.seek(0)
        assert stderr.readline().startswith(f"mcp {sdk[4:]} ")  # the intended SDK ran

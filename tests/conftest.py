"""Shared fixtures: a reference server per test, on a real socket on 127.0.0.1.

The server runs on its own event-loop thread, so blocking clients (which wait on the
test's thread) and async clients (on the test's loop) can both talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from duomcp import _jsonrpc, forget_eras
from duomcp.testing import ReferenceServer, ServerFaults

_T = TypeVar("_T")


class ServerThread:
    """A reference server on a private loop thread; ``run`` executes a coroutine there."""

    def __init__(self, faults: ServerFaults, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ReferenceServer(faults=faults, **options)
        self.run(self.server.start())

    @staticmethod
    async def _cancel_leftovers() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 30) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @classmethod
    @contextlib.contextmanager
    def running(cls, faults: ServerFaults, **options: Any) -> Iterator[ServerThread]:
        """A server thread for the length of a ``with`` block."""
        st = cls(faults, **options)
        try:
            yield st
        finally:
            st.stop()

    def stop(self) -> None:
        try:
            self.run(self.server.close())
            self.run(self._cancel_leftovers())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as in any Python program, even when this process
    was started with SIGINT ignored (a background job of a shell without job control)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def faults() -> ServerFaults:
    """The switches of the test's reference server; tests change them before or during."""
    return ServerFaults()


@pytest.fixture
def server_thread(faults: ServerFaults) -> Iterator[ServerThread]:
    """The test's reference server with the thread it runs on."""
    with ServerThread.running(faults) as st:
        yield st


@pytest.fixture
def server(server_thread: ServerThread) -> ReferenceServer:
    """A running reference MCP server."""
    return server_thread.server


# Messages are parsed by the json module in this process, as in the default install, from
# the start (not only inside tests: a loop's thread may parse between two of them); with
# msgspec (the speedups extra, which the test dependencies install) in tests marked so.
_jsonrpc._fast_loads = None


@pytest.fixture(autouse=True)
def _json_parser(request: pytest.FixtureRequest) -> Iterator[None]:
    """msgspec parses messages in tests marked ``speedups``, the json module in the rest."""
    if request.node.get_closest_marker("speedups") is not None:
        _jsonrpc._fast_loads = _jsonrpc._find_fast_loads()
        assert _jsonrpc._fast_loads is not None, "msgspec is not installed"
    try:
        yield
    finally:
        _jsonrpc._fast_loads = None


@pytest.fixture(autouse=True)
def _fresh_eras() -> None:
    """Every test finds eras anew (a port may be reused by a server of another era)."""
    forget_eras()


@pytest.fixture
def modern_thread(faults: ServerFaults) -> Iterator[ServerThread]:
    """A reference server of the modern era (2026-07-28 only) with its thread."""
    with ServerThread.running(faults, era="modern") as st:
        yield st


@pytest.fixture
def modern_server(modern_thread: ServerThread) -> ReferenceServer:
    """A running reference server of the modern era."""
    return modern_thread.server


@pytest.fixture
def dual_server(faults: ServerFaults) -> Iterator[ReferenceServer]:
    """A running reference server that speaks both eras."""
    with ServerThread.running(faults, era="dual") as st:
        yield st.server


_NEEDS = {
    "conformance": "node",  # the official conformance suite runs on Node 22
    "test_benchmarks_smoke.py": "node",  # the benchmark server is a Node program
    "test_everything_tasks.py": "node",  # the official everything server runs on Node
    "interop": "peers",  # the official SDK's servers (mcp 2.x, and 1.x in .ci-cache)
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need Node or the peer SDKs, so the rest can run alone
    (``pytest -m "not node and not peers"``); the full command runs them all."""
    for item in items:
        parts = item.path.parts
        for name, marker in _NEEDS.items():
            if name in parts:
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[..., Any]]:
    """A tiny aiohttp server for faults the reference server must not make: yields
    ``start(handler, every_path=False)``, which serves ``handler`` at ``/mcp`` (or at every
    path) and returns that ``/mcp`` URL; stopped after the test."""
    from aiohttp import web

    runners: list[web.AppRunner] = []

    async def start(handler: Any, *, every_path: bool = False) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}" if every_path else "/mcp", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/mcp"

    yield start
    for runner in runners:
        await runner.cleanup()

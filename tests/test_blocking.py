"""What only the blocking Client must do: threads, running loops, fork, Ctrl-C, and
handlers that block."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from duomcp import Client
from duomcp.testing import ReferenceServer
from duomcp.types import CreateMessageRequestParams, CreateMessageResult, TextContent


def text_of(result: object) -> str:
    block = result.content[0]  # type: ignore[attr-defined]
    assert isinstance(block, TextContent)
    return block.text


def test_many_threads_share_one_client(server: ReferenceServer) -> None:
    with Client(server.url, timeout=30) as client:

        def worker(n: int) -> list[str]:
            return [text_of(client.call_tool("echo", {"text": f"{n}-{i}"})) for i in range(200)]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(worker, range(8)))
    for n, texts in enumerate(results):
        assert texts == [f"{n}-{i}" for i in range(200)]
    assert server.tool_runs["echo"] == 1600


def test_call_from_inside_a_running_loop(server: ReferenceServer) -> None:
    async def notebook_cell() -> str:
        with Client(server.url, timeout=10) as client:
            return text_of(client.call_tool("echo", {"text": "in a loop"}))

    assert asyncio.run(notebook_cell()) == "in a loop"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_client_works_in_a_forked_child(server: ReferenceServer) -> None:
    with Client(server.url, timeout=10) as client:
        assert text_of(client.call_tool("echo", {"text": "parent"})) == "parent"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: a fresh client on a fresh loop thread
        code = 1
        try:
            with Client(server.url, timeout=10) as child:
                if text_of(child.call_tool("echo", {"text": "child"})) == "child":
                    code = 0
        finally:
            os.write(write_fd, bytes([code]))
            os._exit(code)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    assert os.read(read_fd, 1) == b"\x00"
    os.close(read_fd)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
def test_ctrl_c_cancels_the_call_on_the_server(server: ReferenceServer) -> None:
    with Client(server.url, timeout=30) as client:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.call_tool("slow", {"seconds": 10})
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while not server.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(server.cancelled) == 1
        assert text_of(client.call_tool("echo", {"text": "still usable"})) == "still usable"


def test_blocking_sampling_handler_does_not_stall_other_calls(server: ReferenceServer) -> None:
    release = threading.Event()

    def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        release.wait(10)  # a person thinking: blocks its worker thread only
        return CreateMessageResult(role="assistant", content=TextContent(text="done"), model="m")

    with Client(server.url, timeout=30, sampling_handler=sample) as client:
        with ThreadPoolExecutor(1) as pool:
            sampled = pool.submit(client.call_tool, "sample", {"prompt": "slow"})
            time.sleep(0.2)
            started = time.monotonic()
            assert text_of(client.call_tool("echo", {"text": "meanwhile"})) == "meanwhile"
            assert time.monotonic() - started < 2
            assert not sampled.done()
            release.set()
            assert "done" in text_of(sampled.result(10))


def test_unclosed_client_warns(server: ReferenceServer) -> None:
    client = Client(server.url, timeout=10)
    client.connect()
    engine = client._engine
    with pytest.warns(ResourceWarning, match="unclosed"):
        client.__del__()
    engine.close()

"""The stdio transport against a real process (tests/stdio_peer.py) over real pipes.

The interop tests run the official SDK's servers over stdio too (tests/interop).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from duomcp import (
    AsyncClient,
    BearerToken,
    Client,
    JSONRPCError,
    RequestTimeoutError,
    StdioServer,
    TransportError,
)
from duomcp.errors import MessageTooLargeError
from duomcp.transports import stdio
from duomcp.transports.stdio import StdioTransport
from duomcp.types import TextContent

from ._waits import async_wait_until

PEER = Path(__file__).with_name("stdio_peer.py")


def peer(log: Path, mode: str = "normal", **options: Any) -> StdioServer:
    return StdioServer(
        command=sys.executable,
        args=(str(PEER), "--log", str(log), "--mode", mode),
        stderr=subprocess.DEVNULL,
        **options,
    )


def received(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028 is no end
    return [json.loads(line) for line in lines if line]


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def pid_of(client: AsyncClient) -> int | None:
    transport = client._engine.transport
    assert isinstance(transport, StdioTransport)
    return transport.pid


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal test is all there is
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_pid(path: Path) -> int:
    return int(path.read_text())


async def test_a_legacy_server_one_message_per_line(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log), timeout=10) as client:
        assert client.era == "legacy"
        assert client.url.startswith("stdio: ")
        assert text_of(await client.call_tool("echo", {"text": "a\nb\u2028c"})) == "a\nb\u2028c"
        pid = pid_of(client)
        assert pid is not None and alive(pid)
    raw = log.read_bytes()
    assert "\u2028".encode() not in raw  # escaped: readers that split on it stay whole
    methods = [m.get("method") for m in received(log)]
    # each line parsed as one JSON object: no message was split by an embedded newline
    assert methods[:3] == ["server/discover", "initialize", "notifications/initialized"]
    assert "tools/call" in methods
    await async_wait_until(lambda: not alive(pid))  # closing stdin ended it


@pytest.mark.skipif(sys.platform == "win32", reason="a subprocess pipe of asyncio's there")
async def test_stdout_is_read_a_pipe_at_a_time_and_big_messages_arrive_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncio's 256 KiB pipe reads cost three more system calls each (mmap, mremap,
    # munmap); a pipe holds 64 KiB, so reads take that much at most.
    reads: list[int] = []
    made = stdio._Stdout.connection_made

    def connection_made(self: Any, transport: Any) -> None:
        made(self, transport)
        receive = self.data_received
        self.data_received = lambda data: (reads.append(len(data)), receive(data))
        reads.append(-transport.max_size)

    monkeypatch.setattr(stdio._Stdout, "connection_made", connection_made)
    text = "\u00e9" * 450_000  # 900 KB of UTF-8 (more escaped by servers that do)
    async with AsyncClient(peer(tmp_path / "in"), timeout=10) as client:
        assert text_of(await client.call_tool("echo", {"text": text})) == text
    assert reads[0] == -(64 << 10)
    assert max(reads) <= 64 << 10 and sum(reads[1:]) > 900_000


async def test_each_way_a_call_can_end_on_the_shared_stdout(tmp_path: Path) -> None:
    """A response and an error response each end their call at once, whatever others are
    in flight. A legacy server's notifications/cancelled names a request of its own: one
    of ours with the same id goes on, and gets its answer."""
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log), timeout=10) as client:

        async def unknown() -> BaseException:
            with pytest.raises(JSONRPCError) as caught:
                await client.request("no/such/method")
            return caught.value

        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(client.call_tool("echo", {"text": str(i)}) for i in range(5)),
            client.call_tool("cancel-own"),
            unknown(),
            *(client.call_tool("echo", {"text": str(i)}) for i in range(5, 10)),
        )
        assert time.monotonic() - started < 5  # none waited for its timeout
        texts = [text_of(r) for r in (*outcomes[:5], *outcomes[7:])]
        assert texts == [str(i) for i in range(10)]
        assert text_of(outcomes[5]) == "answered"
        assert isinstance(outcomes[6], JSONRPCError) and outcomes[6].code == -32601
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"


async def test_a_modern_server_may_end_a_call_with_notifications_cancelled(
    tmp_path: Path,
) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log, "modern"), timeout=10) as client:
        assert client.era == "modern"
        started = time.monotonic()
        with pytest.raises(TransportError, match="without a response"):
            await client.call_tool("refuse")
        assert time.monotonic() - started < 5
        assert text_of(await client.call_tool("announce")) == "ok"


async def test_a_timeout_is_cancelled_with_a_notification(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log), timeout=10) as client:
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("slow", timeout=0.3)
        call = next(m for m in received(log) if m.get("method") == "tools/call")

        def cancelled() -> list[Any]:
            return [
                m["params"]["requestId"]
                for m in received(log)
                if m.get("method") == "notifications/cancelled"
            ]

        await async_wait_until(lambda: bool(cancelled()))
        assert cancelled() == [call["id"]]  # once, not twice (transport and engine)
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"


async def test_a_server_silent_to_the_probe_is_taken_for_legacy(tmp_path: Path) -> None:
    started = time.monotonic()
    async with AsyncClient(peer(tmp_path / "in", "silent-probe", probe_timeout=0.5)) as client:
        assert client.era == "legacy"
        assert text_of(await client.call_tool("echo", {"text": "x"})) == "x"
    assert time.monotonic() - started < 5


async def test_a_2024_11_05_server(tmp_path: Path) -> None:
    async with AsyncClient(peer(tmp_path / "in", "old"), timeout=10) as client:
        assert (client.era, client.protocol_version) == ("legacy", "2024-11-05")
        assert text_of(await client.call_tool("echo", {"text": "old"})) == "old"


async def test_modern_subscriptions_are_told_apart_and_ended_by_the_server(
    tmp_path: Path,
) -> None:
    log = tmp_path / "in.jsonl"
    changes: list[str] = []
    server = peer(log, "modern")
    async with AsyncClient(
        server, timeout=10, on_tools_changed=lambda: changes.append("x")
    ) as client:
        assert client.era == "modern"
        await async_wait_until(lambda: client._engine.listen_acknowledged is not None)
        await client.call_tool("announce")
        await async_wait_until(lambda: bool(changes))
        await asyncio.sleep(0.2)
        assert changes == ["x"]  # the one tagged for another subscription was dropped
        await client.call_tool("end")  # the server ends the subscription (cancelled)
        await async_wait_until(lambda: client._engine.subscriptions.task.done())  # type: ignore[union-attr]
        await client.ping()  # the next request opens it again

        def listens() -> int:
            return [m.get("method") for m in received(log)].count("subscriptions/listen")

        await async_wait_until(lambda: listens() == 2)
        await client.call_tool("announce")
        await async_wait_until(lambda: len(changes) == 2)
    assert listens() == 2


async def test_noise_is_skipped_and_batches_are_read(tmp_path: Path) -> None:
    async with AsyncClient(peer(tmp_path / "in", "noise"), timeout=10) as client:
        names = [tool.name for tool in await client.list_tools()]
        assert names == ["echo", "env", "slow"]


async def test_an_oversized_line_fails_the_call_and_stops_the_server(tmp_path: Path) -> None:
    server = peer(tmp_path / "in", "oversize", max_message_bytes=1 << 20)
    async with AsyncClient(server, timeout=10) as client:
        pid = pid_of(client)
        with pytest.raises(MessageTooLargeError, match="over 1048576 bytes"):
            await client.call_tool("echo", {"text": "x"})
        assert pid is not None
        await async_wait_until(lambda: not alive(pid))
        with pytest.raises(MessageTooLargeError):
            await client.call_tool("echo", {"text": "x"})  # the connection stays failed


async def test_a_server_that_exits_mid_call_fails_it_at_once(tmp_path: Path) -> None:
    async with AsyncClient(peer(tmp_path / "in", "exit-mid-call"), timeout=30) as client:
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"exited \(code 3\)"):
            await client.call_tool("echo", {"text": "x"})
        assert time.monotonic() - started < 5


async def test_a_server_that_ended_is_started_again_and_reads_are_sent_again(
    tmp_path: Path,
) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log, "crash-once"), timeout=10) as client:
        first = pid_of(client)
        names = [tool.name for tool in await client.list_tools()]  # the first process dies
        assert names == ["echo", "env", "slow"]
        assert pid_of(client) not in (None, first)
    assert [m.get("method") for m in received(log)].count("initialize") == 2


async def test_a_tool_call_is_not_sent_again_to_the_new_server(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log, "crash-once"), timeout=10) as client:
        with pytest.raises(TransportError, match=r"exited \(code 3\).*not sent again"):
            await client.call_tool("crash")
        assert text_of(await client.call_tool("echo", {"text": "next"})) == "next"
    calls = [m for m in received(log) if m.get("method") == "tools/call"]
    assert [c["params"]["name"] for c in calls] == ["crash", "echo"]


async def test_a_server_that_keeps_ending_is_not_started_forever(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log, "exit-mid-call"), timeout=10) as client:
        for _ in range(3):
            with pytest.raises(TransportError, match="not sent again"):
                await client.call_tool("echo", {"text": "x"})
        for _ in range(2):  # no fourth start within a minute, and the error says why
            with pytest.raises(TransportError, match="4 times within a minute") as info:
                await client.call_tool("echo", {"text": "x"})
            assert "not sent again" not in str(info.value)
            assert str(info.value).count("within a minute") == 1
            assert "exited" in str(info.value.__cause__)  # what ended it, last time
    assert [m.get("method") for m in received(log)].count("initialize") == 4


async def test_close_escalates_to_sigkill(tmp_path: Path) -> None:
    server = peer(tmp_path / "in", "stubborn", shutdown_timeout=0.3)
    client = AsyncClient(server, timeout=10)
    await client.connect()
    pid = pid_of(client)
    assert pid is not None
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < 3  # 0.3 s after stdin, 0.3 s after SIGTERM
    assert not alive(pid)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
async def test_close_ends_helpers_the_server_started(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log, "helper", shutdown_timeout=0.5), timeout=10) as client:
        assert text_of(await client.call_tool("echo", {"text": "x"})) == "x"
        helper = read_pid(Path(f"{log}.helper"))
        assert alive(helper)
    # the server exited on stdin's end; its helper still held stdout until the group ended
    await async_wait_until(lambda: not alive(helper))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
async def test_close_ends_helpers_that_let_go_of_stdout_too(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    async with AsyncClient(peer(log, "quiet-helper", shutdown_timeout=0.5), timeout=10) as client:
        await client.ping()
        helper = read_pid(Path(f"{log}.helper"))
        assert alive(helper)
    await async_wait_until(lambda: not alive(helper))


def test_secret_looking_arguments_stay_out_of_messages() -> None:
    server = StdioServer(
        command="srv", args=("--api-key", "sk-1", "--token=abc", "--name", "x", "-v")
    )
    assert server.display == "srv --api-key '***' '--token=***' --name x -v"
    assert "sk-1" not in AsyncClient(server).url


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
async def test_an_exit_is_noticed_though_a_helper_holds_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pidfd: bool
) -> None:
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)  # as on macOS
    log = tmp_path / "in.jsonl"
    server = peer(log, "helper-crash", shutdown_timeout=0.5)
    async with AsyncClient(server, timeout=30) as client:
        helper = read_pid(Path(f"{log}.helper"))
        started = time.monotonic()
        with pytest.raises(TransportError, match="exited"):
            await client.call_tool("crash")
        assert time.monotonic() - started < 5  # not the call's 30 s timeout
        await async_wait_until(lambda: not alive(helper))
        assert text_of(await client.call_tool("echo", {"text": "new"})) == "new"


async def test_a_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    server = StdioServer(command=str(tmp_path / "no-such-server"))
    with pytest.raises(TransportError, match="cannot start"):
        async with AsyncClient(server, timeout=5):
            pass


async def test_secrets_in_the_environment_stay_out_unless_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUOMCP_TEST_SECRET", "hunter2")
    for options, expected in (
        ({}, set()),
        ({"env": {"GIVEN": "1"}}, {"GIVEN"}),
        ({"inherit_env": True}, {"DUOMCP_TEST_SECRET"}),
    ):
        async with AsyncClient(peer(tmp_path / "in", **options), timeout=10) as client:
            names = set(text_of(await client.call_tool("env")).split())
        assert names & {"GIVEN", "DUOMCP_TEST_SECRET"} == expected
        assert "PATH" in names


def test_auth_and_headers_are_for_http(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="environment"):
        AsyncClient(peer(tmp_path / "in"), auth=BearerToken("t"))
    with pytest.raises(ValueError, match="environment"):
        AsyncClient(peer(tmp_path / "in"), headers={"X": "1"})


def test_the_blocking_client_over_stdio(tmp_path: Path) -> None:
    log = tmp_path / "in.jsonl"
    with Client(peer(log), timeout=10) as client:
        assert text_of(client.call_tool("echo", {"text": "sync"})) == "sync"
        with pytest.raises(RequestTimeoutError):
            client.call_tool("slow", timeout=0.3)
        assert client.era == "legacy"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_during_a_blocking_stdio_call_cancels_it(tmp_path: Path) -> None:
    import threading

    log = tmp_path / "in.jsonl"
    with Client(peer(log), timeout=30) as client:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.call_tool("slow")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(m.get("method") == "notifications/cancelled" for m in received(log)):
                break
            time.sleep(0.02)
        assert any(m.get("method") == "notifications/cancelled" for m in received(log))

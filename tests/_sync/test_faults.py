# Generated from tests/_async/test_faults.py by codegen/unasync.py -- do not edit.
# Change the async original and run: python codegen/unasync.py
"""Fault injection against real sockets on 127.0.0.1 (issue "Reliability").

A hostile or broken server (tests/faulty.py: raw sockets, for what an HTTP library will not do;
the reference server for sessions and restarts; small stdio scripts) must get, for every
call: a typed error from :mod:`duomcp.errors` within the call's timeout (plus a margin), a
size cap with a clear message, or success where the protocol allows it. Never a hang
(every call runs under :func:`~tests.faulty.deadline`), never a tool run twice (counted by
the server), memory bounded where the case is about size, and credentials never sent to
another origin.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from duomcp import (
    BearerToken,
    Client,
    HTTPOptions,
    HTTPStatusError,
    InvalidResponseError,
    MCPError,
    OutcomeUnknownError,
    ReplyLostError,
    RequestTimeoutError,
    StdioServer,
    TransportError,
)
from duomcp.errors import MessageTooLargeError
from duomcp.testing import ServerFaults
from duomcp.types import TextContent

from .. import faulty
from .._waits import pause, wait_until
from ..conftest import ServerThread
from ..faulty import FaultyServer, deadline, peak_memory, peak_rss

pytestmark = pytest.mark.timeout(60)

MARGIN = 0.75
"""Seconds a typed error may come after the call's own timeout."""
TIMEOUT = 0.5
"""The timeout of calls that are expected to time out."""
ERAS = ["legacy", "modern"]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(era: str) -> Iterator[FaultyServer]:
    with FaultyServer(era) as srv:
        yield srv


def client_of(server: FaultyServer, **options: Any) -> Client:
    """A client pinned to the server's era (so the request path, not the probe, is hit)."""
    options.setdefault("timeout", 5)
    return Client(server.url, era=server.era, cache=False, **options)  # type: ignore[arg-type]


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def assert_once(server: FaultyServer) -> None:
    """No tool ran (was received) more than once."""
    assert all(count <= 1 for count in server.tool_runs.values()), server.tool_runs
    assert len(server.posts("tools/call")) <= 1


# -- 1, 2: a reply that never comes ---------------------------------------------------------


def test_sse_reply_of_only_comments_times_out(server: FaultyServer) -> None:
    server.faults["tools/call"] = faulty.sse_comments_forever()
    with client_of(server) as client:
        with deadline(TIMEOUT + MARGIN, server.abort) as took:
            with pytest.raises(RequestTimeoutError):
                client.call_tool("echo", {"text": "x"}, timeout=TIMEOUT)
        assert took.seconds >= TIMEOUT
        # The client let go of the stream (modern: that is the cancellation).
        wait_until(lambda: len(server.closed_after) == 1, 3)
    assert_once(server)
    faulty.note(f"RequestTimeoutError after {took.seconds:.2f} s")


@pytest.mark.parametrize(
    ("content_type", "length"),
    [("application/json", 1000), ("text/event-stream", None)],
    ids=["json", "sse"],
)
def test_headers_then_silence_times_out(
    server: FaultyServer, content_type: str, length: int | None
) -> None:
    server.faults["tools/call"] = faulty.headers_then_silence(content_type, length)
    with client_of(server) as client:
        with deadline(TIMEOUT + MARGIN, server.abort) as took:
            with pytest.raises(RequestTimeoutError):
                client.call_tool("echo", {"text": "x"}, timeout=TIMEOUT)
        assert took.seconds >= TIMEOUT
        wait_until(lambda: len(server.closed_after) == 1, 3)
    assert_once(server)
    faulty.note(f"RequestTimeoutError after {took.seconds:.2f} s")


def test_silence_on_a_read_times_out_without_resending(server: FaultyServer) -> None:
    server.faults["tools/list"] = faulty.headers_then_silence("application/json", 1000)
    with client_of(server) as client:
        with deadline(TIMEOUT + MARGIN, server.abort) as took:
            with pytest.raises(RequestTimeoutError):
                client.list_tools(timeout=TIMEOUT)
    assert len(server.posts("tools/list")) == 1
    faulty.note(f"RequestTimeoutError after {took.seconds:.2f} s")


# -- 3: a body cut short -------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/event-stream"])
def test_a_call_cut_short_is_outcome_unknown_and_run_once(
    server: FaultyServer, content_type: str
) -> None:
    server.faults["tools/call"] = faulty.cut_short(content_type)
    with client_of(server) as client:
        with deadline(2.0, server.abort) as took:
            with pytest.raises(OutcomeUnknownError, match="may or may not have run") as caught:
                client.call_tool("echo", {"text": "x"})
        assert caught.value.method == "tools/call"
        del server.faults["tools/call"]
        assert text_of(client.call_tool("echo", {"text": "y"})) == "ok"
    assert server.tool_runs["echo"] == 2  # the failed call once, the next one once
    assert len(server.posts("tools/call")) == 2
    faulty.note(f"OutcomeUnknownError after {took.seconds:.2f} s")


@pytest.mark.parametrize("content_type", ["application/json", "text/event-stream"])
def test_a_read_cut_short_is_retried_then_fails_typed(
    server: FaultyServer, content_type: str
) -> None:
    server.faults["tools/list"] = faulty.cut_short(content_type)
    with client_of(server) as client:
        with deadline(3.0, server.abort) as took:
            with pytest.raises(ReplyLostError) as caught:
                client.list_tools()
        assert not isinstance(caught.value, OutcomeUnknownError)
    assert len(server.posts("tools/list")) == 3  # sent, then re-sent twice (REISSUES)
    faulty.note(f"{type(caught.value).__name__} after {took.seconds:.2f} s, 3 POSTs")


# -- 4: bodies that are not JSON-RPC -----------------------------------------------------------

HTML = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
NOT_JSON_RPC = [
    ("html-as-json", "application/json", HTML),
    ("html", "text/html", HTML),
    ("foo", "application/json", b'{"foo":1}'),
    ("array-of-numbers", "application/json", b"[1,2,3]"),
    ("text-plain", "text/plain", b'{"jsonrpc":"2.0","id":2,"result":{}}'),
]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(ctype, body) for _, ctype, body in NOT_JSON_RPC],
    ids=[name for name, _, _ in NOT_JSON_RPC],
)
@pytest.mark.parametrize("method", ["tools/call", "tools/list"])
def test_a_reply_that_is_not_json_rpc_is_invalid(
    server: FaultyServer, content_type: str, body: bytes, method: str
) -> None:
    server.faults[method] = faulty.raw_reply(200, content_type, body)
    with client_of(server) as client:
        with deadline(2.0, server.abort) as took:
            with pytest.raises(MCPError) as caught:
                if method == "tools/call":
                    client.call_tool("echo", {"text": "x"})
                else:
                    client.list_tools()
    faulty.note(f"{type(caught.value).__name__} after {took.seconds:.2f} s: {caught.value}")
    assert_once(server)
    assert len(server.posts(method)) == 1  # the server answered: nothing to send again
    assert isinstance(caught.value, InvalidResponseError), repr(caught.value)


def test_a_response_with_the_wrong_id_is_a_typed_error(server: FaultyServer) -> None:
    def other_id(request: faulty.Request) -> bytes:
        reply = {"jsonrpc": "2.0", "id": 987654, "result": faulty.call_result("stray")}
        return faulty.message_bytes(reply)

    server.faults["tools/call"] = faulty.reply_with(other_id)
    with client_of(server) as client:
        with deadline(2.0, server.abort) as took:
            with pytest.raises(MCPError) as caught:
                client.call_tool("echo", {"text": "x"})
    faulty.note(f"{type(caught.value).__name__} after {took.seconds:.2f} s: {caught.value}")
    assert_once(server)
    assert isinstance(caught.value, InvalidResponseError | TransportError), repr(caught.value)


def test_a_garbage_probe_falls_back_to_legacy() -> None:
    """With era="auto", an HTML answer to the modern probe means "not modern"."""
    with FaultyServer("legacy") as server:
        server.faults["server/discover"] = faulty.raw_reply(200, "text/html", HTML)
        with Client(server.url, timeout=5) as client:
            with deadline(3.0, server.abort) as took:
                assert text_of(client.call_tool("echo", {"text": "x"})) == "ok"
            assert client.protocol_version == faulty.LEGACY_VERSION
        assert server.tool_runs["echo"] == 1
    faulty.note(f"success (legacy) after {took.seconds:.2f} s")


# -- 5: a flood of notifications before the result -------------------------------------------


def test_a_reply_stream_kept_open_after_its_result(server: FaultyServer) -> None:
    """The server answers on the reply stream and keeps it open. The call returns once
    the result came (not when the stream ends); what the stream carries later is still
    delivered, and closing the client lets go of the stream."""
    server.faults["tools/call"] = faulty.result_then_open(after=0.3)
    logs: list[Any] = []
    with client_of(server, timeout=30, on_logging_message=logs.append) as client:
        client.list_tools()
        with deadline(2.0, server.abort) as took:
            assert text_of(client.call_tool("echo", {"text": "x"})) == "done"
        assert took.seconds < 1.0, "the call waited for the stream to end"
        wait_until(lambda: len(logs) == 1, 3)
    wait_until(lambda: len(server.closed_after) == 1, 3)
    assert_once(server)
    faulty.note(f"result after {took.seconds:.2f} s; the stream ended at close")


FLOOD = 100_000
STDIO_FLOOD = 20_000  # stdio reads line by line: 100,000 take 8-13 s


@pytest.mark.parametrize("method", ["notifications/message", "notifications/progress"])
def test_a_flood_of_notifications_before_the_result(server: FaultyServer, method: str) -> None:
    server.faults["tools/call"] = faulty.notifications(FLOOD, method=method)
    seen: list[int] = []

    def on_log(params: Any) -> None:
        seen.append(1)

    def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(1)

    # The drop warnings are not kept by pytest's log capture (whose memory is not the
    # client's).
    logger = logging.getLogger("duomcp")
    propagate, logger.propagate = logger.propagate, False
    try:
        with client_of(server, on_logging_message=on_log) as client:
            client.list_tools()
            with peak_rss() as peak, deadline(20.0, server.abort) as took:
                progress = on_progress if method == "notifications/progress" else None
                result = client.call_tool("echo", {"text": "x"}, timeout=30, on_progress=progress)
            assert text_of(result) == "done"
            dropped = client._engine._inbound.dropped
    finally:
        logger.propagate = propagate
    assert_once(server)
    assert 0 < len(seen) <= FLOOD
    assert len(seen) + dropped == FLOOD
    faulty.note(
        f"success after {took.seconds:.2f} s; callbacks run {len(seen)}, dropped "
        f"{dropped}, peak RSS +{peak.mib:.1f} MiB"
    )
    assert peak.mib < 48, f"peak {peak.mib:.1f} MiB"


# -- 6: huge replies ---------------------------------------------------------------------------

HUGE = 300 << 20


@pytest.mark.parametrize(
    ("chunked", "content_type"),
    [
        (False, "application/json"),
        (True, "application/json"),
        (True, "text/event-stream"),
    ],
    ids=["json-content-length", "json-chunked", "sse-one-huge-line"],
)
@pytest.mark.parametrize("method", ["tools/call", "tools/list"])
def test_a_300_mb_reply_hits_the_cap(
    server: FaultyServer, chunked: bool, content_type: str, method: str
) -> None:
    server.faults[method] = faulty.huge_body(HUGE, chunked=chunked, content_type=content_type)
    with client_of(server) as client:
        if method == "tools/call":
            client.list_tools()
        with peak_rss() as rss, peak_memory() as peak, deadline(5.0, server.abort) as took:
            with pytest.raises(MCPError) as caught:
                if method == "tools/call":
                    client.call_tool("echo", {"text": "x"})
                else:
                    client.list_tools()
        wait_until(lambda: len(server.closed_after) >= 1, 3)
    sent = getattr(server, "huge_sent", 0)
    faulty.note(
        f"{type(caught.value).__name__} after {took.seconds:.2f} s, server sent {sent >> 20} MiB, "
        f"traced peak {peak.mib:.1f} MiB, RSS +{rss.mib:.1f} MiB, "
        f"{len(server.posts(method))} POST(s): {caught.value}"
    )
    assert_once(server)
    assert isinstance(caught.value, MessageTooLargeError), repr(caught.value)
    assert "cap" in str(caught.value)
    assert len(server.posts(method)) == 1, "a reply over the cap is not lost: not re-sent"
    assert sent < 100 << 20, "the client kept reading far past the cap"
    assert peak.mib < 64, f"peak {peak.mib:.1f} MiB"
    assert rss.mib < 100, f"peak RSS +{rss.mib:.1f} MiB"


def test_a_huge_reply_over_a_raised_cap_is_still_bounded(server: FaultyServer) -> None:
    """The cap is the option: 1 MiB here, and the client stops reading there."""
    server.faults["tools/call"] = faulty.huge_body(HUGE, chunked=True)
    options = HTTPOptions(max_message_bytes=1 << 20, max_sse_line_bytes=1 << 20)
    with client_of(server, http_options=options) as client:
        with peak_memory() as peak, deadline(3.0, server.abort):
            with pytest.raises(MessageTooLargeError, match="1048576"):
                client.call_tool("echo", {"text": "x"})
    assert peak.mib < 16, f"peak {peak.mib:.1f} MiB"


# -- extras: SSE oddities -----------------------------------------------------------------------


def test_a_non_numeric_retry_is_ignored(server: FaultyServer) -> None:
    def events(request: faulty.Request) -> Iterator[bytes]:
        yield b"id: 1\nretry: soon\ndata:\n\n"
        yield b"retry: 1e3\n\n: a comment\n\nevent: ping\ndata: {}\n\n"

    server.faults["tools/call"] = faulty.sse_then_result(events)
    with client_of(server) as client:
        with deadline(2.0, server.abort) as took:
            assert text_of(client.call_tool("echo", {"text": "x"})) == "done"
    assert_once(server)
    faulty.note(f"success after {took.seconds:.2f} s")


def test_an_sse_event_that_is_not_json_rpc(server: FaultyServer) -> None:
    def events(request: faulty.Request) -> Iterator[bytes]:
        yield b"event: message\ndata: <html>oops</html>\n\n"

    server.faults["tools/call"] = faulty.sse_then_result(events)
    with client_of(server) as client:
        with deadline(2.0, server.abort) as took:
            with pytest.raises(InvalidResponseError):
                client.call_tool("echo", {"text": "x"})
    assert_once(server)
    faulty.note(f"InvalidResponseError after {took.seconds:.2f} s")


# -- 7: resets and restarts ---------------------------------------------------------------------


def test_a_reset_mid_call_is_outcome_unknown_and_not_resent(server: FaultyServer) -> None:
    server.faults["tools/call"] = faulty.reset()
    with client_of(server) as client:
        with deadline(2.0, server.abort) as took:
            with pytest.raises(OutcomeUnknownError):
                client.call_tool("echo", {"text": "x"})
    assert server.tool_runs["echo"] == 1
    assert len(server.posts("tools/call")) == 1
    faulty.note(f"OutcomeUnknownError after {took.seconds:.2f} s")


def test_a_reset_read_is_resent_then_fails_typed(server: FaultyServer) -> None:
    server.faults["tools/list"] = faulty.reset()
    with client_of(server) as client:
        with deadline(3.0, server.abort) as took:
            with pytest.raises(ReplyLostError) as caught:
                client.list_tools()
    assert len(server.posts("tools/list")) == 3
    faulty.note(f"{type(caught.value).__name__} after {took.seconds:.2f} s, 3 POSTs")


def test_a_reset_of_every_connection_fails_the_connect_typed(server: FaultyServer) -> None:
    for method in ("initialize", "server/discover", "tools/list", "tools/call"):
        server.faults[method] = faulty.reset()
    client = client_of(server)
    try:
        with deadline(3.0, server.abort) as took:
            with pytest.raises(TransportError) as caught:
                client.call_tool("echo", {"text": "x"})
    finally:
        client.close()
    assert server.tool_runs["echo"] == 0
    faulty.note(f"{type(caught.value).__name__} after {took.seconds:.2f} s: {caught.value}")


def test_a_server_that_forgot_its_sessions() -> None:
    with ServerThread.running(ServerFaults(), era="legacy") as st:
        with Client(st.server.url, era="legacy", timeout=5) as client:
            client.call_tool("echo", {"text": "a"})
            first = set(st.server.sessions)
            st.server.forget_sessions()
            with deadline(3.0) as took:
                assert text_of(client.call_tool("echo", {"text": "b"})) == "b"
            assert st.server.sessions and st.server.sessions.isdisjoint(first)
        assert st.server.tool_runs["echo"] == 2
    faulty.note(f"success in a new session after {took.seconds:.2f} s")


@pytest.mark.parametrize("loop_free", [True, False], ids=["loop-free", "loop-busy"])
def test_a_server_restarted_on_the_same_port(era: str, loop_free: bool) -> None:
    """The server restarts (forgetting its sessions) between two calls. ``loop-busy``: the
    restart happens while the client's loop cannot run (in the coroutine flavour the test's
    own loop is blocked by the restart), so the client only learns that its pooled
    connection is gone when it sends the next call on it: that call never reached the
    server, and must not be taken for a lost reply."""
    faults = ServerFaults()
    first = ServerThread(faults, era=era)
    url = first.server.url
    port = urlsplit(url).port
    client = Client(url, era=era, timeout=5)  # type: ignore[arg-type]
    try:
        client.call_tool("echo", {"text": "a"})
        first.stop()
        with ServerThread.running(faults, era=era, port=port) as again:
            assert again.server.url == url
            if loop_free:
                pause(0.2)
            else:
                # The restart is over, the old server's connections closed, before the
                # client's loop runs again: under load the kernel may deliver their FIN
                # a little after close() returned, so give it time, the loop still busy.
                block(0.05)
            with deadline(3.0) as took:
                try:
                    result = client.call_tool("echo", {"text": "b"})
                except MCPError as exc:
                    faulty.note(f"{type(exc).__name__} after {took.seconds:.2f} s: {exc}")
                    raise
                assert text_of(result) == "b"
            assert again.server.tool_runs["echo"] == 1
    finally:
        client.close()
    faulty.note(f"success after {took.seconds:.2f} s")


def block(seconds: float) -> None:
    """Sleep without letting the event loop run (what a busy loop does to the client)."""
    time.sleep(seconds)


@pytest.mark.parametrize("loop_free", [True, False], ids=["loop-free", "loop-busy"])
def test_an_idle_connection_closed_by_the_server(era: str, loop_free: bool) -> None:
    """Servers and proxies close kept-alive connections that sit idle; the next call must
    not be taken for a lost reply (it never reached the server). ``loop-busy``: the close
    comes while the client's loop cannot run, so only the call itself can see it."""
    with FaultyServer(era, close_idle_after=0.1) as server:
        with client_of(server) as client:
            assert text_of(client.call_tool("echo", {"text": "a"})) == "ok"
            if loop_free:
                wait_until(lambda: server.idle_closed >= 1, 3)
                pause(0.1)
            else:
                given_up = time.monotonic() + 3
                while server.idle_closed < 1 and time.monotonic() < given_up:
                    block(0.01)
                assert server.idle_closed >= 1
                block(0.05)  # the close reaches this end
            with deadline(3.0, server.abort) as took:
                assert text_of(client.call_tool("echo", {"text": "b"})) == "ok"
        assert server.tool_runs["echo"] == 2
    faulty.note(f"success after {took.seconds:.2f} s")


# -- 8: redirects to another origin -------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("method", ["tools/call", "handshake"])
def test_a_post_redirected_to_another_origin(
    server: FaultyServer, status: int, method: str
) -> None:
    with FaultyServer(server.era) as other:
        fault = faulty.redirect(status, other.url)
        if method == "handshake":
            server.faults["initialize"] = server.faults["server/discover"] = fault
        else:
            server.faults["tools/call"] = fault
        client = client_of(server, auth=BearerToken("s3cret"), headers={"X-Team": "t"})
        try:
            with deadline(3.0, server.abort) as took:
                with pytest.raises(HTTPStatusError, match="redirect") as caught:
                    client.call_tool("echo", {"text": "x"})
        finally:
            client.close()
        assert caught.value.status == status
        assert other.requests == []
        assert all(r.headers.get("authorization") == "Bearer s3cret" for r in server.requests)
    faulty.note(f"HTTPStatusError after {took.seconds:.2f} s: {caught.value}")


@pytest.mark.parametrize("status", [307, 308])
def test_the_legacy_get_stream_redirected_to_another_origin(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="duomcp")
    with FaultyServer("legacy") as server, FaultyServer("legacy") as other:
        server.faults["GET"] = faulty.redirect(status, other.url)
        with client_of(server, auth=BearerToken("s3cret")) as client:
            with deadline(3.0, server.abort):
                assert text_of(client.call_tool("echo", {"text": "x"})) == "ok"
            wait_until(lambda: any(r.method == "GET" for r in server.requests), 3)
            pause(0.3)
        assert other.requests == []
        gets = [r for r in server.requests if r.method == "GET"]
        assert gets and all(r.headers.get("authorization") == "Bearer s3cret" for r in gets)
    said = [r.getMessage() for r in caplog.records if "redirect" in r.getMessage()]
    faulty.note(f"call succeeded; {len(gets)} GET(s); logged: {said[:1]}")
    assert said, "the redirect of the GET stream was not reported"
    assert len(gets) == 1, f"a redirect is not transient, yet the GET was tried {len(gets)} times"


# -- 9: stdio ----------------------------------------------------------------------------------


def killer(pidfile: Path) -> Any:
    """What ends a hung stdio case: SIGKILL of the test's own server process."""
    return lambda: faulty.kill(faulty.pid_from(pidfile))


def stdio(tmp_path: Path, behaviour: str, **options: Any) -> tuple[StdioServer, Path]:
    script, pidfile = faulty.stdio_script(tmp_path, behaviour)
    options.setdefault("stderr", subprocess.DEVNULL)
    server = StdioServer(command=faulty.PYTHON, args=(str(script), str(pidfile)), **options)
    return server, pidfile


@pytest.mark.parametrize("stderr", ["devnull", "inherited"])
def test_stdio_a_server_flooding_stderr_still_answers(tmp_path: Path, stderr: str) -> None:
    where = subprocess.DEVNULL if stderr == "devnull" else None
    server, pidfile = stdio(tmp_path, "stderr-flood", stderr=where)
    client = Client(server, timeout=10)
    try:
        with deadline(15.0, killer(pidfile)) as took:
            assert text_of(client.call_tool("echo", {"text": "x"})) == "ok"
            client.list_tools()
    finally:
        client.close()
    pid = faulty.pid_from(pidfile)
    wait_until(lambda: not faulty.alive(pid), 5)
    faulty.note(f"success after {took.seconds:.2f} s (4 MiB of stderr per answer)")


def test_stdio_a_partial_line_then_silence_times_out(tmp_path: Path) -> None:
    server, pidfile = stdio(tmp_path, "partial-line", shutdown_timeout=0.5)
    client = Client(server, timeout=5)
    try:
        client.connect()
        with deadline(TIMEOUT + MARGIN, killer(pidfile)) as took:
            with pytest.raises(RequestTimeoutError):
                client.call_tool("echo", {"text": "x"}, timeout=TIMEOUT)
    finally:
        with deadline(3.0) as closing:
            client.close()
    pid = faulty.pid_from(pidfile)
    wait_until(lambda: not faulty.alive(pid), 3)
    faulty.note(
        f"RequestTimeoutError after {took.seconds:.2f} s; closed in {closing.seconds:.2f} s"
    )


def test_stdio_a_server_that_never_answers(tmp_path: Path) -> None:
    server, pidfile = stdio(tmp_path, "mute", probe_timeout=0.5, shutdown_timeout=0.5)
    client = Client(server, timeout=1.0)
    try:
        # The probe waits probe_timeout, then initialize waits the timeout.
        with deadline(0.5 + 1.0 + MARGIN, killer(pidfile)) as took:
            with pytest.raises(RequestTimeoutError):
                client.call_tool("echo", {"text": "x"})
    finally:
        with deadline(3.0) as closing:
            client.close()
    pid = faulty.pid_from(pidfile)
    wait_until(lambda: not faulty.alive(pid), 3)
    faulty.note(
        f"RequestTimeoutError after {took.seconds:.2f} s; closed in {closing.seconds:.2f} s"
    )


def test_stdio_a_stubborn_server_that_never_answers_a_call(tmp_path: Path) -> None:
    server, pidfile = stdio(tmp_path, "mute-call-stubborn", shutdown_timeout=0.3)
    client = Client(server, timeout=5)
    try:
        client.connect()
        with deadline(TIMEOUT + MARGIN, killer(pidfile)) as took:
            with pytest.raises(RequestTimeoutError):
                client.call_tool("echo", {"text": "x"}, timeout=TIMEOUT)
    finally:
        with deadline(3.0) as closing:  # stdin closed, SIGTERM ignored, then SIGKILL
            client.close()
    pid = faulty.pid_from(pidfile)
    wait_until(lambda: not faulty.alive(pid), 3)
    faulty.note(
        f"RequestTimeoutError after {took.seconds:.2f} s; closed in {closing.seconds:.2f} s"
    )


def test_stdio_a_flood_of_notifications_before_the_result(tmp_path: Path) -> None:
    server, pidfile = stdio(tmp_path, "log-flood")
    seen: list[int] = []
    logger = logging.getLogger("duomcp")
    propagate, logger.propagate = logger.propagate, False  # see the HTTP flood test
    try:
        with Client(server, timeout=30, on_logging_message=lambda p: seen.append(1)) as c:
            with (
                peak_memory() as peak,
                deadline(45.0, killer(pidfile)) as took,
            ):
                assert text_of(c.call_tool("echo", {"text": "x"})) == "ok"
    finally:
        logger.propagate = propagate
    faulty.note(
        f"success after {took.seconds:.2f} s; callbacks run {len(seen)}; peak RSS +"
        f"{peak.mib:.1f} MiB"
    )
    assert 0 < len(seen) <= STDIO_FLOOD
    assert peak.mib < 48, f"peak {peak.mib:.1f} MiB"

"""A small raw-socket HTTP/1.1 MCP server for faults aiohttp cannot make, and the helpers of
the fault-injection tests (tests/_async/test_faults.py).

:class:`FaultyServer` answers just enough of either era to get a client to its call (the
modern ``server/discover``, or the legacy ``initialize`` with a session id), then, for the
methods named in :attr:`FaultyServer.faults`, does what a hostile or broken server does:
writes raw bytes, stops talking, cuts a body short, resets the connection, redirects.
It runs on threads of its own (one per connection), so blocking and async clients alike
can talk to it; it records every request and counts each ``tools/call`` it received.

Everything here is flavour-free: the async test file is converted to a blocking one, and
nothing in it may use asyncio; what needs threads, sockets or processes lives here.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import struct
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "Deadline",
    "FaultyServer",
    "Request",
    "deadline",
    "peak_memory",
    "stdio_script",
]

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
SESSION = "faulty-session-1"
TOOLS = [
    {"name": "echo", "inputSchema": {"type": "object"}},
    {
        "name": "add",
        "inputSchema": {"type": "object"},
        "annotations": {"readOnlyHint": True, "idempotentHint": True},
    },
]
COMPLETE = {"resultType": "complete", "ttlMs": 0, "cacheScope": "public"}


@attrs.frozen
class Request:
    """One HTTP request the server received (header names lower-cased; ``body`` parsed
    JSON, or None)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def rpc_method(self) -> str | None:
        body = self.body
        return body.get("method") if isinstance(body, dict) else None

    @property
    def rpc_id(self) -> Any:
        return self.body.get("id") if isinstance(self.body, dict) else None


Fault = Callable[["Conn", Request], None]
"""What the server does instead of answering: writes to the connection, which is closed
(or reset) after it returns."""


class Conn:
    """One accepted connection, as a fault sees it."""

    def __init__(self, sock: socket.socket, server: FaultyServer) -> None:
        self.sock = sock
        self.server = server
        self.reset = False
        """Set by a fault: close with RST (SO_LINGER 0) instead of FIN."""

    @property
    def stopping(self) -> bool:
        return self.server.stopping.is_set()

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone (or the server stops)."""
        if self.stopping:
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def head(self, status: int, headers: dict[str, str], reason: str = "") -> bool:
        lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Whatever')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def wait_for_close(self, limit: float = 60.0) -> float | None:
        """Block until the client closes the connection (or the server stops); return
        the seconds it took, or None if it did not within ``limit``."""
        started = time.monotonic()
        self.sock.settimeout(0.05)
        try:
            while time.monotonic() - started < limit and not self.stopping:
                try:
                    if not self.sock.recv(65536):
                        return time.monotonic() - started
                except TimeoutError:
                    continue
                except OSError:
                    return time.monotonic() - started
        finally:
            self.sock.settimeout(None)
        return None

    def pause_until_closed(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the client closed the connection meanwhile."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
            return not data
        except TimeoutError:
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(None)


_REASONS = {
    200: "OK",
    202: "Accepted",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    405: "Method Not Allowed",
}


def message_bytes(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def result_of(request: Request, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request.rpc_id, "result": result}


def call_result(text: str = "ok") -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "resultType": "complete"}


class FaultyServer:
    """A raw-socket MCP endpoint of one era on 127.0.0.1, misbehaving on demand.

    ``faults`` maps a JSON-RPC method (``"tools/call"``), or ``"GET"`` for the legacy GET
    stream, to a :data:`Fault`. Everything else is answered correctly with one JSON body;
    the legacy GET stream is refused with 405 unless a fault takes it.
    """

    def __init__(self, era: str = "modern", *, close_idle_after: float | None = None) -> None:
        self.era = era
        self.close_idle_after = close_idle_after
        """Close a kept-alive connection (FIN) that sent no new request for this long, as
        servers and proxies do with idle connections."""
        self.faults: dict[str, Fault] = {}
        self.requests: list[Request] = []
        self.tool_runs: collections.Counter[str] = collections.Counter()
        self.idle_closed = 0
        """How many idle connections :attr:`close_idle_after` closed."""
        self.closed_after: list[float | None] = []
        """Seconds after which the client closed a connection a fault held open."""
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.origin}/mcp"
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True, name="faulty-accept")
        self._acceptor.start()

    def __enter__(self) -> FaultyServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def posts(self, method: str) -> list[Request]:
        """The POSTed requests of ``method`` received so far."""
        return [r for r in list(self.requests) if r.rpc_method == method]

    def abort(self) -> None:
        """Reset every open connection (ends whatever a client waits for)."""
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.abort()
        self._acceptor.join(5)
        for thread in list(self._threads):
            thread.join(5)

    # -- serving --------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._socks.add(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, self)
        buffer = b""
        try:
            while not self.stopping.is_set():
                parsed = self._read_request(sock, buffer)
                if parsed is None:
                    return
                request, buffer = parsed
                self.requests.append(request)
                if request.rpc_method == "tools/call":
                    name = (request.body.get("params") or {}).get("name")
                    self.tool_runs[str(name)] += 1
                key = request.method if request.method != "POST" else request.rpc_method
                fault = self.faults.get(str(key))
                if fault is not None:
                    fault(conn, request)
                    return
                if not self._answer(conn, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._socks.discard(sock)
            if conn.reset:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    def _read_request(self, sock: socket.socket, buffer: bytes) -> tuple[Request, bytes] | None:
        sock.settimeout(self.close_idle_after)
        while b"\r\n\r\n" not in buffer:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                if buffer:
                    continue
                self.idle_closed += 1
                return None
            sock.settimeout(None)
            if not data:
                return None
            buffer += data
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            data = sock.recv(65536)
            if not data:
                return None
            buffer += data
        raw, buffer = buffer[:length], buffer[length:]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return Request(method, path, headers, body), buffer

    def _answer(self, conn: Conn, request: Request) -> bool:
        """Answer correctly; return whether the connection stays open."""
        if request.method == "GET":
            return conn.head(405, {"Content-Length": "0", "Allow": "POST, DELETE"})
        if request.method == "DELETE":
            return conn.head(200, {"Content-Length": "0"})
        if request.method != "POST" or request.rpc_id is None:
            return conn.head(202, {"Content-Length": "0"})
        method = request.rpc_method
        extra: dict[str, str] = {}
        message: dict[str, Any]
        if method == "initialize" and self.era == "legacy":
            init = {
                "protocolVersion": LEGACY_VERSION,
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "faulty", "version": "1"},
            }
            message = result_of(request, init)
            extra["Mcp-Session-Id"] = SESSION
        elif method == "server/discover" and self.era == "modern":
            discover = {
                "supportedVersions": [MODERN_VERSION],
                "capabilities": {"tools": {}, "logging": {}},
                **COMPLETE,
            }
            message = result_of(request, discover)
        elif method == "tools/list":
            message = result_of(request, {"tools": TOOLS, **COMPLETE})
        elif method == "tools/call":
            message = result_of(request, call_result())
        elif method == "ping":
            message = result_of(request, {})
        else:
            error = {"code": -32601, "message": f"no {method}"}
            message = {"jsonrpc": "2.0", "id": request.rpc_id, "error": error}
        body = message_bytes(message)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **extra}
        return conn.head(200, headers) and conn.send(body)


# -- faults -------------------------------------------------------------------------------


def raw_reply(status: int, content_type: str, body: bytes, **headers: str) -> Fault:
    """A complete reply with this status, type and body."""

    def fault(conn: Conn, request: Request) -> None:
        all_headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        all_headers["Connection"] = "close"
        all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        if conn.head(status, all_headers):
            conn.send(body)
        conn.server.closed_after.append(conn.wait_for_close(10))

    return fault


def reply_with(build: Callable[[Request], bytes], content_type: str = "application/json") -> Fault:
    """A 200 whose body ``build`` makes from the request (e.g. a response with another id)."""

    def fault(conn: Conn, request: Request) -> None:
        body = build(request)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        headers["Connection"] = "close"
        if conn.head(200, headers):
            conn.send(body)
        conn.server.closed_after.append(conn.wait_for_close(10))

    return fault


def sse_comments_forever(interval: float = 0.05) -> Fault:
    """An SSE reply that sends only ``: keepalive`` comments until the client leaves."""

    def fault(conn: Conn, request: Request) -> None:
        started = time.monotonic()
        if not conn.head(200, {"Content-Type": "text/event-stream", "Connection": "close"}):
            return
        while conn.send(b": keepalive\n\n"):
            if conn.pause_until_closed(interval):
                break
        conn.server.closed_after.append(time.monotonic() - started)

    return fault


def headers_then_silence(content_type: str, content_length: int | None = None) -> Fault:
    """Response headers, then nothing at all until the client leaves."""

    def fault(conn: Conn, request: Request) -> None:
        headers = {"Content-Type": content_type}
        headers["Connection" if content_length is None else "Content-Length"] = (
            "close" if content_length is None else str(content_length)
        )
        if conn.head(200, headers):
            conn.server.closed_after.append(conn.wait_for_close())

    return fault


def cut_short(content_type: str = "application/json") -> Fault:
    """A body that stops halfway through its Content-Length (the connection is closed)."""

    def fault(conn: Conn, request: Request) -> None:
        body = message_bytes(result_of(request, call_result("x" * 200)))
        if content_type == "text/event-stream":
            body = b"event: message\ndata: " + body + b"\n\n"
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        if conn.head(200, headers):
            conn.send(body[: len(body) // 2])

    return fault


def huge_body(size: int, *, chunked: bool, content_type: str = "application/json") -> Fault:
    """A JSON (or SSE) body of ``size`` bytes, written in 64 KiB pieces as the client reads:
    with a Content-Length, or chunked without one. Never built in memory."""
    piece = b"a" * (64 << 10)

    def fault(conn: Conn, request: Request) -> None:
        started = time.monotonic()
        prefix = b'{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"' % (
            json.dumps(request.rpc_id).encode()
        )
        if content_type == "text/event-stream":
            prefix = b"event: message\ndata: " + prefix
        headers = {"Content-Type": content_type}
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(size)

        def write(data: bytes) -> bool:
            if chunked:
                return conn.send(b"%x\r\n%s\r\n" % (len(data), data))
            return conn.send(data)

        if not conn.head(200, headers) or not write(prefix):
            return
        sent = len(prefix)
        while sent < size:
            data = piece[: size - sent]
            if not write(data):
                break
            sent += len(data)
        conn.server.closed_after.append(time.monotonic() - started)
        conn.server.huge_sent = sent  # type: ignore[attr-defined]

    return fault


def sse_then_result(events: Callable[[Request], Iterator[bytes]]) -> Fault:
    """An SSE reply: the raw bytes ``events`` yields, then the request's result, then the end."""

    def fault(conn: Conn, request: Request) -> None:
        if not conn.head(200, {"Content-Type": "text/event-stream", "Connection": "close"}):
            return
        for data in events(request):
            if not conn.send(data):
                return
        result = message_bytes(result_of(request, call_result("done")))
        conn.send(b"event: message\ndata: " + result + b"\n\n")

    return fault


def result_then_open(after: float = 0.3) -> Fault:
    """An SSE reply: the result, then (``after`` seconds later) a log message, then the
    stream is kept open until the client leaves."""

    def fault(conn: Conn, request: Request) -> None:
        started = time.monotonic()
        if not conn.head(200, {"Content-Type": "text/event-stream", "Connection": "close"}):
            return
        result = message_bytes(result_of(request, call_result("done")))
        if not conn.send(b"event: message\ndata: " + result + b"\n\n"):
            return
        if conn.pause_until_closed(after):
            return
        log = {"level": "info", "logger": "late", "data": "after the result"}
        message = {"jsonrpc": "2.0", "method": "notifications/message", "params": log}
        if conn.send(b"event: message\ndata: " + message_bytes(message) + b"\n\n"):
            conn.wait_for_close()
        conn.server.closed_after.append(time.monotonic() - started)

    return fault


def notifications(count: int, *, method: str = "notifications/message") -> Fault:
    """``count`` notifications (log messages, or progress for the request's token) in
    SSE events, written in batches of 1000, then the result."""

    def events(request: Request) -> Iterator[bytes]:
        meta = ((request.body.get("params") or {}).get("_meta")) or {}
        token = meta.get("progressToken", request.rpc_id)
        batch: list[bytes] = []
        for n in range(count):
            if method == "notifications/progress":
                params: dict[str, Any] = {"progressToken": token, "progress": n}
            else:
                params = {"level": "info", "logger": "flood", "data": f"line {n}"}
            message = {"jsonrpc": "2.0", "method": method, "params": params}
            batch.append(b"event: message\ndata: " + message_bytes(message) + b"\n\n")
            if len(batch) == 1000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    return sse_then_result(events)


def reset() -> Fault:
    """Read the request, then reset the connection (RST, SO_LINGER 0)."""

    def fault(conn: Conn, request: Request) -> None:
        conn.reset = True

    return fault


def redirect(status: int, location: str) -> Fault:
    """A redirect (307/308) to ``location``."""
    return raw_reply(status, "text/plain", b"moved", Location=location)


# -- helpers of the tests ---------------------------------------------------------------------


@attrs.define
class Deadline:
    """How long a block took; set when it ends."""

    limit: float
    started: float = 0.0
    seconds: float = 0.0
    expired: bool = False


@contextlib.contextmanager
def deadline(limit: float, on_expiry: Callable[[], None] | None = None) -> Iterator[Deadline]:
    """Fail unless the block ends within ``limit`` seconds. On expiry ``on_expiry`` runs on
    a timer thread (typically breaking the peer, so that a hung call returns); the block's
    outcome is then an assertion error whatever it raised."""
    state = Deadline(limit, started=time.monotonic())

    def expire() -> None:
        state.expired = True
        if on_expiry is not None:
            on_expiry()

    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    except BaseException:
        state.seconds = time.monotonic() - state.started
        assert not state.expired, f"hung: still waiting after {limit} s (the peer was broken)"
        raise
    finally:
        timer.cancel()
        state.seconds = time.monotonic() - state.started
        record(state)
    assert not state.expired, f"hung: still waiting after {limit} s (the peer was broken)"
    assert state.seconds <= limit, f"took {state.seconds:.2f} s, over {limit} s"


def record(state: Deadline) -> None:
    """Append the elapsed time to $FAULTY_REPORT (for the report), if set."""
    where = os.environ.get("FAULTY_REPORT")
    if not where:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
    with open(where, "a", encoding="utf-8") as out:
        out.write(f"{test}\t{state.seconds:.3f}\t{'EXPIRED' if state.expired else ''}\n")


def note(text: str) -> None:
    """Append an observed outcome to $FAULTY_REPORT, if set."""
    where = os.environ.get("FAULTY_REPORT")
    if not where:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
    with open(where, "a", encoding="utf-8") as out:
        out.write(f"{test}\toutcome\t{text}\n")


@attrs.define
class Peak:
    """The peak of traced Python memory within a block, in bytes."""

    bytes: int = 0

    @property
    def mib(self) -> float:
        return self.bytes / (1 << 20)


@contextlib.contextmanager
def peak_memory() -> Iterator[Peak]:
    """Trace Python allocations (all threads) within the block; its peak above the start."""
    peak = Peak()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        yield peak
    finally:
        _, top = tracemalloc.get_traced_memory()
        peak.bytes = top - base
        if not was_tracing:
            tracemalloc.stop()


def _status(field: str) -> int:
    """A memory figure of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def peak_rss() -> Iterator[Peak]:
    """The process's peak resident memory within the block, above its resident memory at
    the start (VmHWM, reset through /proc/self/clear_refs): C buffers count too, and
    nothing is slowed down as tracemalloc would (7x on a flood of small messages)."""
    peak = Peak()
    Path("/proc/self/clear_refs").write_text("5")
    base = _status("VmRSS")
    try:
        yield peak
    finally:
        peak.bytes = _status("VmHWM") - base


# -- stdio servers ----------------------------------------------------------------------------

_STDIO_PREAMBLE = """
import json, os, sys, time
PIDFILE = sys.argv[1]
with open(PIDFILE, "w") as f:
    f.write(str(os.getpid()))

def send(message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()

def result(request, value):
    send({"jsonrpc": "2.0", "id": request["id"], "result": value})

def answer(request):
    method = request.get("method")
    if method == "server/discover":
        send({"jsonrpc": "2.0", "id": request["id"],
              "error": {"code": -32601, "message": "Method not found"}})
    elif method == "initialize":
        result(request, {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                         "serverInfo": {"name": "faulty-stdio", "version": "1"}})
    elif method == "tools/list":
        result(request, {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
    elif method == "tools/call":
        result(request, {"content": [{"type": "text", "text": "ok"}]})
    elif method == "ping":
        result(request, {})
"""

STDIO_BEHAVIOURS = {
    # Writes 4 MiB to stderr before every answer (far over a pipe's buffer).
    "stderr-flood": """
for line in sys.stdin:
    request = json.loads(line)
    if "id" in request:
        for _ in range(64):
            sys.stderr.write("noise " * 10922 + "\\n")
        sys.stderr.flush()
        answer(request)
""",
    # Answers the handshake, then writes the start of a line with no newline, and sleeps.
    "partial-line": """
for line in sys.stdin:
    request = json.loads(line)
    if request.get("method") == "tools/call":
        sys.stdout.write('{"jsonrpc": "2.0", "id": %d, "result": {"cont' % request["id"])
        sys.stdout.flush()
        time.sleep(3600)
    elif "id" in request:
        answer(request)
""",
    # Reads everything, answers nothing.
    "mute": """
for line in sys.stdin:
    pass
time.sleep(3600)
""",
    # Answers the handshake, then never answers tools/call; ignores SIGTERM and stdin's end.
    "mute-call-stubborn": """
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for line in sys.stdin:
    request = json.loads(line)
    if "id" in request and request.get("method") != "tools/call":
        answer(request)
while True:
    time.sleep(1)
""",
    # 20,000 log notifications before the result of tools/call.
    "log-flood": """
for line in sys.stdin:
    request = json.loads(line)
    if request.get("method") == "tools/call":
        out = []
        for n in range(20000):
            params = {"level": "info", "logger": "flood", "data": "line %d" % n}
            out.append(json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                                   "params": params}))
            if len(out) == 1000:
                sys.stdout.write("\\n".join(out) + "\\n")
                out = []
        sys.stdout.flush()
        answer(request)
    elif "id" in request:
        answer(request)
""",
}


def stdio_script(folder: Path, behaviour: str) -> tuple[Path, Path]:
    """Write the stdio server script of ``behaviour``; return it and its pid file."""
    script = folder / f"{behaviour}.py"
    script.write_text(_STDIO_PREAMBLE + textwrap.dedent(STDIO_BEHAVIOURS[behaviour]))
    return script, folder / f"{behaviour}.pid"


def pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    if pid is None:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def kill(pid: int | None) -> None:
    """SIGKILL ``pid`` (a test's own stdio server), if it still runs."""
    if pid is not None and alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


PYTHON = sys.executable

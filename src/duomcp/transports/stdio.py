"""The stdio transport: the client starts the server and talks over its stdin and stdout.

One JSON-RPC message per line each way. The server's stderr is its own (by default it goes
where the client's goes) and is never read as a signal. Closing ends the server the way the
specification asks: stdin closed, a wait, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

import attrs

from .._jsonrpc import dumps
from .._timeouts import wait_for
from ..connection import ConnectionState
from ..errors import MessageTooLargeError, TransportError
from ._http import HTTPOptions
from ._shared_stream import Awaited

__all__ = ["StdioServer", "StdioTransport"]

log = logging.getLogger("duomcp.transport")

MAX_RESTARTS = 3
"""A server that ended by itself is started again this often a minute, at most."""

_POSIX = sys.platform != "win32"
_PIPE_READ = 64 << 10  # the most a read of the server's stdout takes (see _Stdout)
# Passed on to the server by default; anything else must be given in ``env``, so API keys
# in the client's environment do not reach every server it starts.
_WINDOWS_INHERITED = "APPDATA HOMEDRIVE HOMEPATH LOCALAPPDATA PATH PATHEXT PROCESSOR_ARCHITECTURE"
_WINDOWS_INHERITED += " PROGRAMFILES SYSTEMDRIVE SYSTEMROOT TEMP USERNAME USERPROFILE"
_POSIX_INHERITED = "HOME LOGNAME PATH SHELL TERM USER LANG LC_ALL TMPDIR"
_INHERITED = (_POSIX_INHERITED if _POSIX else _WINDOWS_INHERITED).split()


def _line(message: dict[str, Any]) -> bytes:
    """One message as one line. U+2028 and U+2029 are escaped too: JSON allows them raw
    in strings, but a server that splits lines the Unicode way (Python's ``splitlines``)
    would cut the message there."""
    data = dumps(message)
    if b"\xe2\x80" in data:
        data = data.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return data + b"\n"


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Return once the process has exited. ``process.wait()`` also waits for its pipes to
    close, which a helper it started may hold open: Linux says when through a pidfd,
    elsewhere the exit status is looked at every 0.25 s."""
    if process.returncode is not None:
        return
    loop = asyncio.get_running_loop()
    pidfd_open = getattr(os, "pidfd_open", None)
    fd = None
    if pidfd_open is not None:
        with contextlib.suppress(OSError):  # gone already, or no pidfd in this kernel
            fd = pidfd_open(process.pid)
    if fd is not None:
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        try:
            loop.add_reader(fd, readable)
        except NotImplementedError:  # a loop without add_reader (Windows proactor)
            os.close(fd)
        else:
            try:
                await exited
            finally:
                loop.remove_reader(fd)
                os.close(fd)
            return
    while process.returncode is None:  # noqa: ASYNC110 (no event to wait on: polling is it)
        await asyncio.sleep(0.25)


async def _end_group(pgid: int, timeout: float) -> None:
    """SIGTERM what is left of the server's process group (helpers that did not end with
    it), then SIGKILL what is still there after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return  # nobody left
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return


_SECRET_FLAG = re.compile(r"(key|token|secret|passw|auth|credential)", re.IGNORECASE)


def _redacted(args: Iterable[str]) -> list[str]:
    """Arguments with the values of secret-looking options hidden (for messages and logs):
    ``--api-key sk-1`` and ``--token=abc`` become ``--api-key ***`` and ``--token=***``."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if arg.startswith("-") and _SECRET_FLAG.search(name):
            if eq:
                out.append(f"{name}=***")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(arg)
    return out


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


class _ServerProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The server's stdout, cut into lines as it arrives and each line handed to
    ``deliver`` at once: no reader task wakes up for each line, no ``readline`` per
    message. A line longer than ``max_line`` bytes ends the reading (``stdout_ended``
    then holds ``True``); so does the end of stdout (``False``)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[bytes, str], None],
        source: str,
        max_line: int,
    ) -> None:
        super().__init__(limit=1 << 16, loop=loop)  # its StreamReader for stdout stays empty
        self._deliver = deliver
        self._source = source
        self._max_line = max_line
        self._partial = bytearray()
        self.stdout_ended: asyncio.Future[bool] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if fd != 1:
            super().pipe_data_received(fd, data)
            return
        assert isinstance(data, bytes)
        self.stdout_received(data)

    def stdout_received(self, data: bytes) -> None:
        """Some bytes of the server's stdout."""
        if self.stdout_ended.done():
            return  # stopped for an oversized line: nothing after it is read
        partial = self._partial
        if b"\n" not in data:  # the middle of a line
            partial += data
            if len(partial) > self._max_line:
                self._ended(True)
            return
        if partial:
            partial += data
            data = bytes(partial)
            partial.clear()
        lines = data.split(b"\n")
        rest = lines.pop()
        deliver, source, max_line = self._deliver, self._source, self._max_line
        try:
            for line in lines:
                if len(line) > max_line:
                    self._ended(True)
                    return
                if line and not line.isspace():
                    deliver(line, source)
        except BaseException as exc:  # as a reading task would, stop reading
            if not self.stdout_ended.done():
                self.stdout_ended.set_exception(exc)
            raise
        if rest:
            partial += rest
            if len(partial) > max_line:
                self._ended(True)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._ended(False)
        super().pipe_connection_lost(fd, exc)

    def stdout_lost(self) -> None:
        """The server's stdout ended."""
        self._ended(False)

    def _ended(self, oversized: bool) -> None:
        self._partial.clear()
        if not self.stdout_ended.done():
            self.stdout_ended.set_result(oversized)


class _Stdout(asyncio.Protocol):
    """The server's stdout as a pipe of our own (POSIX): the loop hands each read to
    :class:`_ServerProtocol` at once, where a subprocess pipe would defer it by one loop
    turn (``call_soon``) per read.

    asyncio reads a pipe into a fresh 256 KiB buffer (``max_size``): at that size the C
    library maps memory for it, so each read cost three more system calls (mmap, mremap
    down to what was read, munmap). A pipe holds 64 KiB (Linux, macOS): reads of that size
    lose nothing.
    """

    def __init__(self, server: _ServerProtocol) -> None:
        self.data_received = server.stdout_received  # type: ignore[method-assign]
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if getattr(transport, "max_size", 0) > _PIPE_READ:
            setattr(transport, "max_size", _PIPE_READ)  # noqa: B010 (not in typeshed)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.stdout_lost()


@attrs.frozen(kw_only=True)
class StdioServer:
    """How to start an MCP server that speaks over its standard input and output.

    Pass it where a URL goes: ``AsyncClient(StdioServer(command="uvx", args=("my-server",)))``.

    Args:
        command: the program to run (looked up on ``PATH``).
        args: its arguments.
        env: environment variables for the server, on top of a few inherited ones
            (``PATH``, ``HOME``, locale, temp folder...), so secrets in the client's own
            environment are not handed to every server; ``inherit_env=True`` passes it all.
        inherit_env: pass the client's whole environment (then ``env`` on top).
        cwd: the working directory (default: the client's).
        stderr: where the server's stderr goes: ``None`` (default) shares the client's,
            or a file object, or ``subprocess.DEVNULL``. It is never parsed.
        max_message_bytes: the longest line accepted from the server.
        probe_timeout: seconds to wait for the answer to the modern ``server/discover``
            before taking the server for a legacy one that ignores unknown requests.
        shutdown_timeout: seconds to wait after closing stdin, and again after SIGTERM,
            before the next, harder step.
    """

    command: str
    args: tuple[str, ...] = attrs.field(
        default=(), converter=_strings, repr=lambda args: repr(tuple(_redacted(args)))
    )
    env: Mapping[str, str] | None = attrs.field(
        default=None,
        repr=lambda env: (
            "None" if env is None else "{" + ", ".join(f"{k!r}: '***'" for k in env) + "}"
        ),
    )
    inherit_env: bool = False
    cwd: str | os.PathLike[str] | None = None
    stderr: IO[Any] | int | None = attrs.field(default=None)
    max_message_bytes: int = 16 << 20
    probe_timeout: float = 10.0
    shutdown_timeout: float = 2.0

    @stderr.validator
    def _check_stderr(self, _: Any, value: IO[Any] | int | None) -> None:
        if value in (subprocess.PIPE, subprocess.STDOUT):
            # Nobody would read the pipe: a chatty server would fill it and stall, and
            # STDOUT would mix its logs into the protocol.
            raise ValueError("stderr may be None, a file or subprocess.DEVNULL, not a pipe")

    @property
    def display(self) -> str:
        """The command line, quoted as a shell would need it, with the values of options
        named like secrets (``--api-key``, ``--token=``...) shown as ``***``."""
        return shlex.join([self.command, *_redacted(self.args)])

    def environment(self) -> dict[str, str]:
        """The environment the server process gets."""
        if self.inherit_env:
            base = dict(os.environ)
        else:
            base = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        return {**base, **(self.env or {})}


class StdioTransport:
    """Writes messages to the server's stdin and hands every line of its stdout, in order,
    to ``on_message``.

    The same surface as the HTTP transport: :meth:`post` of a request returns once its
    response has been delivered; cancelling it sends ``notifications/cancelled`` (the only
    way to cancel on stdio, in both eras).
    """

    def __init__(
        self,
        state: ConnectionState,
        *,
        on_message: Callable[[dict[str, Any]], None],
        server: StdioServer,
    ) -> None:
        self._state = state
        self._on_message = on_message
        self.server = server
        self.options = HTTPOptions()
        """Reconnection timings of the subscription loop (shared with the HTTP transport)."""
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Lock | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._awaited = Awaited(on_message, state)
        self._failure: TransportError | None = None
        self._closed = False
        self._broke_protocol = False
        self.generation = 0
        """How many times the server was started again after it ended."""
        self._restarts: list[float] = []
        self._reviving: asyncio.Lock | None = None
        self._given_up = False  # ended too often: not started again
        self._queued: list[bytes] | None = None
        """The messages to write at the end of this loop turn."""
        self._flush_failed: asyncio.Task[None] | None = None

    @property
    def state(self) -> ConnectionState:
        """The connection state (protocol version and era; stdio has no headers)."""
        return self._state

    @property
    def pid(self) -> int | None:
        """The server's process id, once started."""
        return None if self._process is None else self._process.pid

    @property
    def ended(self) -> bool:
        """The server ended by itself (exited or closed its stdout), not by a close, and
        not stopped for breaking the protocol."""
        return self._failure is not None and not self._closed and not self._broke_protocol

    @property
    def probe_timeout(self) -> float | None:
        """A legacy stdio server may ignore the era probe: wait for it only so long."""
        return self.server.probe_timeout

    @property
    def remembers_era(self) -> bool:
        """A command line is not an endpoint worth remembering: each process is probed."""
        return False

    def fallback(self) -> None:
        """None: there is no other way to talk to a local process."""
        return None

    async def revive(self, generation: int) -> bool:
        """Start a server that ended by itself again, at most :data:`MAX_RESTARTS` times a
        minute; ``True`` when it was, by this call or by another since ``generation``.

        Raises:
            TransportError: the server ended too often to be started again; this call
                and every later one fail with it, saying so.
        """
        if self._closed:
            return False
        if self._reviving is None:
            self._reviving = asyncio.Lock()
        async with self._reviving:
            if self.generation != generation:
                return True  # another call started it again already
            if not self.ended:
                return False
            now = asyncio.get_running_loop().time()
            self._restarts = [t for t in self._restarts if now - t < 60.0]
            if len(self._restarts) >= MAX_RESTARTS:
                log.warning(
                    "%s ended %d times within a minute; not starting it again",
                    self.server.display,
                    MAX_RESTARTS + 1,
                )
                failure = ended = self._failure
                if not self._given_up:
                    self._given_up = True
                    failure = self._failure = TransportError(
                        f"{ended}; it ended {MAX_RESTARTS + 1} times within a minute, so it "
                        "is not started again (a new client starts it anew)"
                    )
                    failure.__cause__ = ended
                assert failure is not None  # (ended)
                raise failure
            self._restarts.append(now)
            log.warning("%s; starting it again", self._failure)
            await self.restart()
        return True

    async def restart(self) -> None:
        """End what is left of the ended server; the next :meth:`post` starts a new one."""
        process, reader, watcher = self._process, self._reader, self._watcher
        self._process = self._reader = self._watcher = None
        self._queued = None  # a flush already due still writes them to the old process
        if process is not None:
            await self._end(process, reader, watcher)
        self._failure = None
        self._awaited.clear()
        self.generation += 1

    def cancels_requests(self, era: str | None) -> bool:
        """Whether cancelling :meth:`post` tells the server itself (it does, on stdio)."""
        return True

    async def _start(self) -> asyncio.subprocess.Process:
        if self._process is not None:
            return self._process
        if self._closed:
            raise TransportError(f"the connection to {self.server.display} is closed")
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._process is None:
                server = self.server
                loop = asyncio.get_running_loop()
                source = f"the stdout of {server.display}"
                deliver = self._awaited.deliver

                def protocol() -> _ServerProtocol:
                    return _ServerProtocol(loop, deliver, source, server.max_message_bytes)

                read_fd = write_fd = -1
                try:
                    if _POSIX:
                        read_fd, write_fd = os.pipe()
                    transport, protocol_ = await loop.subprocess_exec(
                        protocol,
                        server.command,
                        *server.args,
                        stdin=subprocess.PIPE,
                        stdout=write_fd if _POSIX else subprocess.PIPE,
                        stderr=server.stderr,
                        env=server.environment(),
                        cwd=server.cwd,
                        # its own process group, so helpers it starts end with it
                        start_new_session=_POSIX,
                    )
                except OSError as exc:
                    if read_fd >= 0:
                        os.close(read_fd)
                    raise TransportError(f"cannot start {server.display}: {exc}") from exc
                finally:
                    if write_fd >= 0:
                        os.close(write_fd)  # the server has its own copy
                stdout: asyncio.BaseTransport | None = None
                if _POSIX:
                    pipe = os.fdopen(read_fd, "rb", buffering=0)  # an fd: nothing blocks
                    try:
                        stdout, _ = await loop.connect_read_pipe(lambda: _Stdout(protocol_), pipe)
                    except BaseException:
                        pipe.close()
                        transport.close()  # kills the server
                        raise
                process = asyncio.subprocess.Process(transport, protocol_, loop)
                self._process = process
                self._reader = reader = loop.create_task(self._read(process, protocol_, stdout))
                self._watcher = loop.create_task(self._watch(process, reader))
        return self._process

    async def post(
        self,
        message: dict[str, Any],
        *,
        request_id: str | int | None = None,
        initialize: bool = False,
        response: asyncio.Future[Any] | None = None,
    ) -> None:
        """Write one message; for a request, return once its response was delivered.

        Cancelled while waiting, it sends ``notifications/cancelled`` for the request
        (except for ``initialize``, which must not be cancelled).

        Raises:
            TransportError: the server could not be started, or exited.
        """
        if self._failure is not None:
            raise self._failure
        process = self._process
        if process is None:
            process = await self._start()
        waiter = None if request_id is None else self._awaited.expect(request_id, response)
        try:
            unsent = self._write_at_once(process, _line(message), request_id)
            if unsent is not None:
                await self._write(process, unsent)
            if waiter is not None:
                await waiter
        except asyncio.CancelledError:
            if waiter is not None and not initialize and self._failure is None:
                self._cancel_soon(process, request_id)
            raise
        finally:
            self._awaited.forget(request_id)
            if waiter is not None and waiter.done() and not waiter.cancelled():
                waiter.exception()  # failed while the write failed: already raised above

    def _write_at_once(
        self,
        process: asyncio.subprocess.Process,
        data: bytes,
        request_id: str | int | None = None,
    ) -> bytes | None:
        """Write ``data`` where that needs no wait (no coroutine per message): ``None``
        once it is out, or queued to go out with this loop turn's others; else what
        :meth:`_write` must still write (``b""``: only wait for the pipe to drain)."""
        queued = self._queued
        if queued is not None:  # goes out with the others of this loop turn
            queued.append(data)
            return None
        stdin = process.stdin
        assert stdin is not None
        pipe = stdin.transport
        if pipe.is_closing() or pipe.get_write_buffer_size():
            return data
        if len(self._awaited) > (request_id is not None):
            # Other calls are under way, so more messages are likely to be written in this
            # loop turn: all of them in one write once the turn is over, one system call
            # and one wake-up of the server instead of one each. Nothing is buffered, so
            # nothing to drain: a later write past the pipe's high-water mark waits.
            self._queued = queued = [data]
            asyncio.get_running_loop().call_soon(self._flush, process, queued)
            return None
        pipe.write(data)  # a lone call: at once (all of it, or the rest buffered)
        if not pipe.is_closing() and not pipe.get_write_buffer_size():
            return None  # nothing to drain: stdin.drain() would return at once
        return b""

    async def _write(self, process: asyncio.subprocess.Process, data: bytes) -> None:
        """Write ``data`` (if any) and wait until the pipe has room again.

        Raises:
            TransportError: the pipe closed (the server is gone).
        """
        stdin = process.stdin
        assert stdin is not None
        try:
            if data:
                stdin.write(data)
            await stdin.drain()
        except (ConnectionError, RuntimeError) as exc:  # the pipe closed: the server is gone
            await self._gone(process)
            raise self._failure or TransportError(f"{self.server.display}: {exc}") from exc

    def _flush(self, process: asyncio.subprocess.Process, queued: list[bytes]) -> None:
        if self._queued is queued:
            self._queued = None
        stdin = process.stdin
        assert stdin is not None
        stdin.write(queued[0] if len(queued) == 1 else b"".join(queued))
        if stdin.is_closing() and self._flush_failed is None:
            # The pipe closed (the server is gone): what waits for a response fails now,
            # as a write that saw it would have.
            self._flush_failed = asyncio.get_running_loop().create_task(self._gone(process))
            self._flush_failed.add_done_callback(self._flush_failed_done)

    def _flush_failed_done(self, _: asyncio.Task[None]) -> None:
        self._flush_failed = None

    def _cancel_soon(self, process: asyncio.subprocess.Process, request_id: Any) -> None:
        notification = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "cancelled by the client"},
        }
        queued = self._queued
        if queued is not None:  # after the request it cancels, if that is still queued
            queued.append(_line(notification))
            return
        stdin = process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(_line(notification))  # drained by the next write

    async def _read(
        self,
        process: asyncio.subprocess.Process,
        protocol: _ServerProtocol,
        stdout: asyncio.BaseTransport | None,
    ) -> None:
        """Wait for the end of the server's stdout (its lines are delivered as they come,
        by ``protocol``); a line over the limit stops the server."""
        try:
            if await protocol.stdout_ended:  # a line over the limit: nothing after it is trusted
                self._broke_protocol = True
                self._fail(
                    MessageTooLargeError(
                        f"the stdout of {self.server.display} sent a message over "
                        f"{self.server.max_message_bytes} bytes; the server was stopped"
                    )
                )
                await self._stop(process)
        finally:
            if stdout is not None:
                stdout.close()  # ended, or given up on (a helper may hold it open)
            await self._gone(process)

    async def _gone(self, process: asyncio.subprocess.Process) -> None:
        """The server's stdout ended: fail what waits, with its exit status if it has one."""
        if self._failure is not None or process is not self._process:
            return  # already failed, or a reader of a server that was replaced
        code: int | None = None
        try:
            code = await wait_for(asyncio.shield(process.wait()), 1.0)
        except asyncio.TimeoutError:
            pass
        what = "was closed" if self._closed else f"exited (code {code})"
        if code is None and not self._closed:
            what = "closed its stdout"
        self._fail(TransportError(f"the server {self.server.display} {what}"))

    def _fail(self, error: TransportError) -> None:
        if self._failure is None:
            self._failure = error
        self._awaited.fail(self._failure)

    async def delete_session(self) -> None:
        """Nothing to do: a stdio connection has no session to end apart from the process."""

    async def listen(self, opened: Callable[[], None] | None = None) -> None:
        """Nothing to open: on stdio the server's messages all arrive on its stdout."""
        if opened is not None:
            opened()

    async def close(self) -> None:
        """Close stdin, wait, then SIGTERM, then SIGKILL; idempotent."""
        self._closed = True
        process, reader, watcher = self._process, self._reader, self._watcher
        if process is not None:
            await self._end(process, reader, watcher)

    async def _end(
        self,
        process: asyncio.subprocess.Process,
        reader: asyncio.Task[None] | None,
        watcher: asyncio.Task[None] | None,
    ) -> None:
        """Stop the server, then what is left of its process group, then the reader."""
        if watcher is not None:
            watcher.cancel()
        if process.returncode is None:
            await self._stop(process)
        if _POSIX:  # helpers it started, whether or not they hold its stdout
            await _end_group(process.pid, self.server.shutdown_timeout)
        if reader is not None:
            await self._finish_reading(reader)

    async def _watch(self, process: asyncio.subprocess.Process, reader: asyncio.Task[None]) -> None:
        """Notice the server's exit even when a helper it started keeps its stdout open:
        the reader gets the rest of stdout, then the helpers are ended."""
        await _exited(process)
        done, _ = await asyncio.wait({reader}, timeout=self.server.shutdown_timeout)
        if not done and _POSIX:
            await _end_group(process.pid, self.server.shutdown_timeout)
        await self._finish_reading(reader)

    async def _finish_reading(self, reader: asyncio.Task[None]) -> None:
        """Let the reader see the end of stdout; stop it if it does not come in time."""
        done, _ = await asyncio.wait({reader}, timeout=self.server.shutdown_timeout)
        if not done:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        timeout = self.server.shutdown_timeout
        queued = self._queued
        if queued is not None and process is self._process:
            self._flush(process, queued)  # what was posted before the end goes first
        stdin = process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        for step in (None, process.terminate, process.kill):  # the server itself, not its group
            if step is not None:
                try:
                    step()
                except ProcessLookupError:
                    return
            try:  # not process.wait(): it also waits for pipes a helper may hold open
                await wait_for(_exited(process), timeout)
                return
            except asyncio.TimeoutError:
                continue

"""The deprecated HTTP+SSE transport of protocol 2024-11-05.

The client opens a GET stream; its first event, ``endpoint``, names the URL to POST
messages to (same origin only), and every message from the server, responses included,
comes on that stream. The stream is the session: when it ends, the session has ended too,
and the next request starts a new one. Headers come from the connection state as for
every other request, and a 401 or 403 on the GET or a POST goes to the same auth path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from .._jsonrpc import dumps
from .._timeouts import wait_for
from ..connection import ConnectionState
from ..errors import (
    HTTPStatusError,
    InvalidResponseError,
    MCPError,
    ReplyLostError,
    SessionExpiredError,
    SSEDecodeError,
    TransportError,
)
from ._http import HTTPOptions, HTTPSender
from ._shared_stream import Awaited
from ._sse import SSEDecoder

if TYPE_CHECKING:
    import aiohttp

    from ._base import Transport
else:
    from .._lazy import LazyModule

    aiohttp = LazyModule("aiohttp")

__all__ = ["LegacySSETransport"]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class LegacySSETransport:
    """Talks to a 2024-11-05 server over its GET stream and the POST URL the stream names."""

    probe_timeout: float | None = None
    """No era probe on this transport: it is of the legacy era."""
    remembers_era = False
    """The endpoint is remembered as an HTTP+SSE one instead (by the negotiation)."""
    generation = 0
    """Never restarted."""

    def __init__(
        self,
        state: ConnectionState,
        *,
        on_message: Callable[[dict[str, Any]], None],
        options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
        sender: HTTPSender | None = None,
    ) -> None:
        self._on_message = on_message
        self.sender = (sender or HTTPSender(state, options=options, http=http)).acquire()
        """The HTTP request path (and connection pool) this transport sends through."""
        self._closed = False
        self.state = state
        """The connection state every request takes its headers from."""
        self.options = self.sender.options
        """The limits and timings in force."""
        self._stream: asyncio.Task[None] | None = None
        self._endpoint: asyncio.Future[str] | None = None
        self._opening: asyncio.Lock | None = None
        self._awaited = Awaited(self._on_message)
        self._ended: TransportError | None = None

    async def revive(self, generation: int) -> bool:
        """Nothing to start again over HTTP: ``False``."""
        return False

    def fallback(self) -> Transport | None:
        """None: this is the last transport to try."""
        return None

    def cancels_requests(self, era: str | None) -> bool:
        """Never: a request is cancelled with ``notifications/cancelled``."""
        return False

    async def post(
        self,
        message: dict[str, Any],
        *,
        request_id: str | int | None = None,
        initialize: bool = False,
        response: asyncio.Future[Any] | None = None,
    ) -> None:
        """POST one message to the stream's URL; for a request, return once its response
        arrived on the stream.

        ``initialize`` opens a new stream (a new session). After the stream ended, any
        other message raises :class:`SessionExpiredError`, so the caller starts anew.

        Raises:
            TransportError: the stream could not be opened, or ended before the response.
            HTTPStatusError: the server refused the stream or the message.
        """
        if initialize:
            await self._close_stream()
            self._ended = None
        elif self._ended is not None:
            raise SessionExpiredError(
                f"{self._ended}; the session ended with it", status=0, url=self.state.endpoint
            )
        endpoint = await self._open()
        # A waiter of its own, not ``response``: the stream may end (failing the waiter)
        # while the POST is under way, and then the POST's own error (a 404: the session
        # is gone, so the request never ran) is the one to raise.
        waiter = None if request_id is None else self._awaited.expect(request_id)
        try:
            body = dumps(message)
            resp = await self.sender.send("post", body=body, message=message, url=endpoint)
            try:
                if resp.status == 404:
                    raise SessionExpiredError(
                        f"POST {endpoint}: the server no longer knows this session",
                        status=404,
                        url=endpoint,
                    )
                if not 200 <= resp.status < 300:
                    await self.sender.raise_for_status(resp, f"POST {endpoint}")
            finally:
                resp.release()
            if waiter is not None:
                await waiter
        finally:
            self._awaited.forget(request_id)
            if waiter is not None and waiter.done() and not waiter.cancelled():
                waiter.exception()  # the POST failed after the stream ended: raised above

    async def _open(self) -> str:
        """The POST URL of the current stream, opening the stream first if needed."""
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._stream is None or self._stream.done():
                loop = asyncio.get_running_loop()
                self._endpoint = loop.create_future()
                self._stream = loop.create_task(self._read(self._endpoint))
            assert self._endpoint is not None
            endpoint = self._endpoint
        wait = self.options.connect_timeout
        try:
            return await wait_for(asyncio.shield(endpoint), wait)
        except asyncio.TimeoutError:
            raise TransportError(
                f"GET {self.state.endpoint} sent no endpoint event within {wait} s: "
                "not an HTTP+SSE server"
            ) from None

    async def _read(self, endpoint: asyncio.Future[str]) -> None:
        url = self.state.endpoint
        error: TransportError | None = None
        try:
            resp = await self.sender.send("get", stream="sse")
            try:
                await self._read_events(resp, endpoint)
            finally:
                resp.close()
            error = TransportError(f"the SSE stream of {url} ended")
        except asyncio.CancelledError:
            error = TransportError(f"the SSE stream of {url} was closed")
            raise
        except MCPError as exc:
            error = exc if isinstance(exc, TransportError) else TransportError(str(exc))
            if not endpoint.done():
                endpoint.set_exception(exc)
        except (aiohttp.ClientError, OSError) as exc:  # the connection dropped mid-stream
            error = TransportError(f"the SSE stream of {url} broke: {exc or type(exc).__name__}")
        finally:
            self._end(error or TransportError(f"the SSE stream of {url} ended"), endpoint)

    async def _read_events(
        self, resp: aiohttp.ClientResponse, endpoint: asyncio.Future[str]
    ) -> None:
        url = self.state.endpoint
        if not 200 <= resp.status < 300:
            await self.sender.raise_for_status(resp, f"GET {url}")
        if resp.content_type != "text/event-stream":
            raise HTTPStatusError(
                f"GET {url} answered {resp.status} {resp.content_type!r}, not an SSE stream",
                status=resp.status,
                url=url,
            )
        decoder = SSEDecoder(
            max_line_bytes=self.options.max_sse_line_bytes,
            max_event_bytes=self.options.max_message_bytes,
        )
        source = f"SSE event from {url}"
        async for chunk in resp.content.iter_any():
            for event in decoder.feed(chunk):
                if event.event == "endpoint":
                    self._take_endpoint(event.data.strip(), endpoint)
                elif event.event == "message" and event.data:
                    self._awaited.deliver(event.data, source)

    def _take_endpoint(self, data: str, endpoint: asyncio.Future[str]) -> None:
        url = self.state.endpoint
        target = urljoin(url, data)
        if _origin(target) != _origin(url):
            # A stream that sends messages elsewhere could send the bearer token with them.
            raise InvalidResponseError(
                f"the SSE stream of {url} named {target!r} to POST to: not the same origin"
            )
        if not endpoint.done():
            endpoint.set_result(target)

    def _end(self, error: TransportError, endpoint: asyncio.Future[str]) -> None:
        if endpoint.done() and not endpoint.cancelled() and endpoint.exception() is None:
            self._ended = error  # the session was up: it ended with the stream
        elif not endpoint.done():
            endpoint.set_exception(error)
        # Requests posted on this stream got no response: they may or may not have run. A
        # stream refused for its content (over a size cap) says so itself.
        if isinstance(error, SSEDecodeError):
            self._awaited.fail(error)
        else:
            self._awaited.fail(ReplyLostError(f"{error} before the response"))

    async def _close_stream(self) -> None:
        stream = self._stream
        self._stream = None
        if stream is not None and not stream.done():
            stream.cancel()
            await asyncio.gather(stream, return_exceptions=True)

    async def listen(self, opened: Any = None) -> None:
        """Nothing more to open: the stream opened for ``initialize`` carries everything."""
        if opened is not None:
            opened()

    async def delete_session(self) -> None:
        """End the session: close its stream."""
        await self._close_stream()

    async def close(self) -> None:
        """Close the stream and let go of the connection pool; idempotent."""
        await self._close_stream()
        if not self._closed:
            self._closed = True
            await self.sender.release()

"""Streamable HTTP transport, both eras (2025-03-26 ... 2025-11-25, and 2026-07-28).

Every request goes through :meth:`StreamableHTTPTransport._send`, which takes all headers
from the :class:`~duomcp.connection.ConnectionState`, sends every 401/403 to the one auth
path, and turns a 404 on a request that carried a session id into
:class:`~duomcp.errors.SessionExpiredError`. POSTs never follow redirects and are never
re-sent to recover a broken reply: a broken reply stream is resumed with GET and
``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import attrs

from .._jsonrpc import dumps, loads_messages
from .._lazy import LazyModule
from ..auth import AuthChallenge, RequestKind
from ..connection import ConnectionState
from ..errors import (
    AuthError,
    AuthorizationRequiredError,
    HTTPStatusError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidResponseError,
    JSONRPCError,
    MCPError,
    MessageTooLargeError,
    ReplyLostError,
    SessionExpiredError,
    SSEDecodeError,
    TransportError,
)
from ._sse import SSEDecoder

__all__ = ["HTTPOptions", "StreamableHTTPTransport"]

_TransportT = TypeVar("_TransportT", bound="StreamableHTTPTransport")

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")  # imported when the first transport is made

log = logging.getLogger("duomcp.transport")

_METHODS: dict[RequestKind, str] = {
    "post": "POST",
    "get": "GET",
    "resume": "GET",
    "delete": "DELETE",
}
GET_STREAM = "get"
_HOLD = 0.05  # seconds a reply stream may take to end after its response
# A server's `retry` is honoured up to an hour; beyond that it is a bug or an attack.
_MAX_SERVER_RETRY_MS = 3_600_000
# asyncio reads a plain TCP socket into a fresh 256 KiB buffer (``max_size``): at or above
# glibc's mmap threshold, that is an mmap, two page faults, an mremap and a munmap for
# every read, about 30 us a reply. 64 KiB comes from the heap with no system call.
_READ_SIZE = 64 << 10


@attrs.frozen(kw_only=True)
class HTTPOptions:
    """Limits and timings of the HTTP transport."""

    connect_timeout: float = 10.0
    """Seconds to open a TCP (and TLS) connection."""
    max_message_bytes: int = 16 << 20
    """Largest JSON reply body or SSE event accepted."""
    max_sse_line_bytes: int = 16 << 20
    """Longest single SSE line accepted."""
    reconnect_delay: float = 0.25
    """First delay before reconnecting a stream when the server gave no ``retry``."""
    max_reconnect_delay: float = 30.0
    """Cap of the exponential backoff between reconnection attempts."""
    max_reconnect_attempts: int = 4
    """Consecutive failed reconnections after which a stream is given up."""
    drain_timeout: float = 5.0
    """Seconds to wait for a reply stream to end after its response arrived."""
    delete_timeout: float = 5.0
    """Seconds the DELETE that ends a session may take at close."""


class _StreamBroken(TransportError):
    """The connection dropped in the middle of an SSE stream."""


def _env_proxy(url: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``...) names for ``url``."""
    import aiohttp.helpers
    import yarl

    try:
        proxy, _ = aiohttp.helpers.get_env_proxy_for_url(yarl.URL(url))
    except LookupError:
        return None
    return str(proxy)


def _is_success(status: int) -> bool:
    return 200 <= status < 300


class StreamableHTTPTransport:
    """Sends JSON-RPC messages by POST and reads replies and server streams over SSE.

    Incoming messages are handed, in order, to ``on_message``; the transport never
    interprets them beyond noticing the response it is waiting for.
    """

    def __init__(
        self,
        state: ConnectionState,
        *,
        on_message: Callable[[dict[str, Any]], None],
        options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self._state = state
        self._on_message = on_message
        self._options = options or HTTPOptions()
        self._http = http
        self._owns_http = http is None
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._options.connect_timeout
        )
        self._proxy = _env_proxy(state.endpoint)

    @property
    def state(self) -> ConnectionState:
        """The connection state every request takes its headers from."""
        return self._state

    def cancels_requests(self, era: str | None) -> bool:
        """Whether cancelling :meth:`post` tells the server itself: in the modern era,
        closing a request's reply stream is its cancellation; legacy servers need
        ``notifications/cancelled``."""
        return era == "modern"

    def sibling(self, cls: type[_TransportT]) -> _TransportT:
        """A transport of another kind for the same server, state and connection pool (the
        pool stays this one's until :meth:`give_pool`)."""
        return cls(self._state, on_message=self._on_message, options=self._options, http=self._http)

    def give_pool(self, other: StreamableHTTPTransport) -> None:
        """Make ``other`` close the connection pool this transport made, at its close."""
        if self._owns_http and other._http is self._http:
            self._owns_http, other._owns_http = False, True

    @property
    def options(self) -> HTTPOptions:
        """The limits and timings in force."""
        return self._options

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            # trust_env=False: aiohttp would then look up the proxy and ~/.netrc in a worker
            # thread on every request (two thread hops per call), and a netrc entry would
            # clash with our Authorization header. The proxy is resolved once instead.
            self._http = aiohttp.ClientSession(
                trust_env=False,
                timeout=self._timeout,
                connector=_connector_class()(limit=0, limit_per_host=0),
            )
        return self._http

    async def close(self) -> None:
        """Close the connection pool if this transport created it; idempotent."""
        if self._owns_http and self._http is not None and not self._http.closed:
            await self._http.close()

    # -- the one request path ------------------------------------------------------------

    async def _send(
        self,
        kind: RequestKind,
        *,
        body: bytes | None = None,
        stream: str | None = None,
        message: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one HTTP request with headers from the connection state.

        ``url`` is the endpoint unless given (the legacy HTTP+SSE transport POSTs to the
        URL its stream named). A 401/403 goes to the auth path and the request is retried
        once when it says so. Raises :class:`SessionExpiredError` for a 404 to a request
        that carried a session.
        """
        method = _METHODS[kind]
        url = url or self._state.endpoint
        for attempt in range(2):
            try:
                headers = await self._state.headers(kind, stream=stream, message=message)
            except ValueError as exc:
                raise InvalidRequestError(f"{method} {url}: {exc}") from exc
            sent_session = "Mcp-Session-Id" in headers
            try:
                resp = await self._session().request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=self._timeout,
                    proxy=self._proxy,
                )
            except asyncio.TimeoutError as exc:
                raise TransportError(
                    f"{method} {url}: no connection within {self._options.connect_timeout} s"
                ) from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise TransportError(f"{method} {url} failed: {exc or type(exc).__name__}") from exc
            if resp.status in (401, 403):
                resp.release()
                challenge = AuthChallenge.from_response(
                    status=resp.status,
                    url=self._state.endpoint,  # the protected resource, whatever URL was hit
                    request_kind=kind,
                    www_authenticate=resp.headers.get("WWW-Authenticate"),
                )
                auth = self._state.auth
                if attempt == 0 and auth is not None and await auth.handle_challenge(challenge):
                    continue
                self._raise_auth(challenge, method)
            if resp.status == 404 and sent_session:
                resp.release()
                raise SessionExpiredError(
                    f"{method} {url}: the server no longer knows session; starting a new one",
                    status=404,
                    url=url,
                )
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _raise_auth(challenge: AuthChallenge, method: str) -> NoReturn:
        where = f"{method} {challenge.url}"
        if challenge.status == 403 and challenge.error == "insufficient_scope":
            raise InsufficientScopeError(
                f"{where} was refused (403 insufficient_scope, needs scope "
                f"{challenge.scope!r}); use credentials with that scope",
                status=403,
                url=challenge.url,
                www_authenticate=challenge.www_authenticate,
            )
        hint = (
            "give the client auth= credentials"
            if challenge.status == 401
            else "check the credentials' permissions"
        )
        raise AuthorizationRequiredError(
            f"{where} was refused with {challenge.status}; {hint}",
            status=challenge.status,
            url=challenge.url,
            www_authenticate=challenge.www_authenticate,
        )

    async def _raise_for_status(self, resp: aiohttp.ClientResponse, what: str) -> NoReturn:
        try:
            raw = await resp.content.read(64 << 10)
        except (aiohttp.ClientError, OSError):
            raw = b""
        text = raw.decode("utf-8", "replace")
        if resp.content_type == "application/json":
            try:
                messages = loads_messages(raw, source="error body")
            except InvalidResponseError:
                messages = []
            for message in messages:
                error = message.get("error")
                if isinstance(error, dict) and isinstance(error.get("code"), int):
                    raise JSONRPCError(
                        error["code"],
                        str(error.get("message", "")),
                        error.get("data"),
                        http_status=resp.status,
                    )
        if 300 <= resp.status < 400:
            raise HTTPStatusError(
                f"{what} was redirected ({resp.status}) to {resp.headers.get('Location')!r}; "
                "MCP requests are not followed across redirects: use the final URL",
                status=resp.status,
                url=str(resp.url),
                body=text,
            )
        raise HTTPStatusError(
            f"{what} answered {resp.status} {resp.reason or ''}: {text[:300]}".rstrip(": "),
            status=resp.status,
            url=str(resp.url),
            body=text,
        )

    # -- POST ---------------------------------------------------------------------------

    async def post(
        self,
        message: dict[str, Any],
        *,
        request_id: str | int | None = None,
        initialize: bool = False,
    ) -> None:
        """POST one message and deliver every message of the reply.

        For a request (``request_id`` given) this returns once the response has been
        delivered and the reply stream has ended, resuming a broken stream with GET and
        ``Last-Event-ID``. For a notification or response it returns on 202 Accepted.

        Raises:
            TransportError: the POST or its reply failed and could not be resumed.
            JSONRPCError: the server refused the message with a JSON-RPC error body.
        """
        url = self._state.endpoint
        resp = await self._send("post", body=dumps(message), message=message)
        stream_key = f"post:{request_id}"
        modern = self._state.era == "modern"
        try:
            if initialize:
                self._state.set_session_id(resp.headers.get("Mcp-Session-Id"))
            if not _is_success(resp.status):
                await self._raise_for_status(resp, f"POST {url}")
            ctype = resp.content_type
            if request_id is None:
                if resp.status not in (200, 202, 204):
                    await self._raise_for_status(resp, f"POST {url}")
                return
            if resp.status in (202, 204):
                raise InvalidResponseError(
                    f"POST {url} accepted a request ({resp.status}) but sent no response"
                )
            if ctype == "application/json":
                self._deliver_json(await self._read_body(resp, url), url)
                return
            if ctype != "text/event-stream":
                raise InvalidResponseError(
                    f"POST {url} answered with Content-Type {ctype!r}; "
                    "expected application/json or text/event-stream"
                )
            try:
                if await self._read_stream(resp, stream_key, request_id):
                    return
            except _StreamBroken as exc:
                log.debug("reply stream for request %s broke: %s", request_id, exc)
        except BaseException:
            # Cancelled or failed mid-reply: close the connection, never pool it. In the
            # modern era closing the reply stream is how a request is cancelled.
            resp.close()
            raise
        finally:
            resp.release()
        if modern:
            raise ReplyLostError(
                f"the reply stream of request {request_id} to {url} ended before its response"
            )
        try:
            await self._resume(stream_key, request_id)
        finally:
            self._state.last_event_ids.pop(stream_key, None)

    def _deliver_json(self, raw: bytes, url: str) -> None:
        for message in loads_messages(raw, source=f"reply of {url}"):
            self._on_message(message)

    async def _read_body(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self._options.max_message_bytes
        length = resp.content_length
        if length is not None and length > cap:
            raise MessageTooLargeError(
                f"reply of {url} is {length} bytes, over the {cap}-byte cap "
                "(raise it with max_message_bytes)"
            )
        try:
            if length is not None:
                return await resp.read()
            body = bytearray()
            async for chunk in resp.content.iter_any():
                body += chunk
                if len(body) > cap:
                    raise MessageTooLargeError(
                        f"reply of {url} exceeds the {cap}-byte cap (raise max_message_bytes)"
                    )
            return bytes(body)
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"reply of {url} broke off: {exc}") from exc

    async def _read_stream(
        self, resp: aiohttp.ClientResponse, stream_key: str, request_id: str | int | None
    ) -> bool:
        """Deliver the messages of one SSE response; return whether ``request_id``'s
        response was among them. Raises :class:`_StreamBroken` if the connection drops
        before the response (after it, a drop only costs the connection)."""
        decoder = SSEDecoder(
            max_line_bytes=self._options.max_sse_line_bytes,
            max_event_bytes=self._options.max_message_bytes,
        )
        state = self._state
        content = resp.content
        answered = False
        # The response is held until the stream ends (or briefly, _HOLD seconds): the
        # connection then goes back to the pool before the caller sends its next request.
        held: dict[str, Any] | None = None
        source = f"SSE event from {self._state.endpoint}"
        while True:
            try:
                if answered:
                    wait = _HOLD if held is not None else self._options.drain_timeout
                    chunk = await asyncio.wait_for(content.readany(), wait)
                else:
                    chunk = await content.readany()
            except asyncio.TimeoutError:
                if held is not None:
                    self._on_message(held)
                    held = None
                    continue
                resp.close()  # the server keeps an answered stream open: give up the socket
                return True
            except (aiohttp.ClientError, OSError) as exc:
                if answered:
                    if held is not None:
                        self._on_message(held)
                    return True
                raise _StreamBroken(f"SSE stream of {self._state.endpoint} broke: {exc}") from exc
            if not chunk:
                decoder.close()
                if held is not None:
                    self._on_message(held)
                return answered
            events = decoder.feed(chunk)
            if decoder.last_event_id:
                state.last_event_ids[stream_key] = decoder.last_event_id
            if decoder.retry is not None:
                state.server_retry_ms = decoder.retry
            for event in events:
                if not event.data or event.event != "message":
                    continue
                try:
                    messages = loads_messages(event.data, source=source)
                except InvalidResponseError:
                    if request_id is not None:
                        raise
                    log.warning("dropped an SSE event that is not JSON-RPC from %s", source)
                    continue
                for message in messages:
                    if (
                        request_id is not None
                        and message.get("id") == request_id
                        and "method" not in message
                    ):
                        answered = True
                        held = message
                        continue
                    self._on_message(message)

    def _reconnect_delay(self, failures: int) -> float:
        retry_ms = self._state.server_retry_ms
        if retry_ms is not None:
            retry_ms = min(retry_ms, _MAX_SERVER_RETRY_MS)
        if retry_ms is not None and failures == 0:
            return retry_ms / 1000  # the server's retry is a MUST to honour
        base = retry_ms / 1000 if retry_ms is not None else self._options.reconnect_delay
        delay = min(self._options.max_reconnect_delay, base * (2**failures))
        return float(delay * random.uniform(0.5, 1.0) if failures else delay)

    async def _resume(self, stream_key: str, request_id: str | int | None) -> None:
        """Resume a request's reply stream with GET + Last-Event-ID until its response."""
        url = self._state.endpoint
        failures = 0
        while True:
            if stream_key not in self._state.last_event_ids:
                raise TransportError(
                    f"the reply stream of request {request_id} to {url} ended before its "
                    "response and the server gave no event id to resume from; the request "
                    "may or may not have run"
                )
            await asyncio.sleep(self._reconnect_delay(failures))
            before = self._state.last_event_ids.get(stream_key)
            try:
                resp = await self._send("resume", stream=stream_key)
                try:
                    if not _is_success(resp.status):
                        await self._raise_for_status(resp, f"GET {url} (resuming)")
                    if resp.content_type != "text/event-stream":
                        raise InvalidResponseError(
                            f"GET {url} (resuming) answered {resp.content_type!r}, not SSE"
                        )
                    if await self._read_stream(resp, stream_key, request_id):
                        return
                finally:
                    resp.release()
            except SessionExpiredError:
                raise
            except HTTPStatusError as exc:
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    raise TransportError(
                        f"could not resume the reply of request {request_id}: {exc}"
                    ) from exc
                log.debug("resuming request %s failed: %s", request_id, exc)
            except SSEDecodeError:
                raise
            except TransportError as exc:  # network trouble or another broken stream
                log.debug("resuming request %s failed: %s", request_id, exc)
            progressed = self._state.last_event_ids.get(stream_key) != before
            failures = 0 if progressed else failures + 1
            if failures > self._options.max_reconnect_attempts:
                raise TransportError(
                    f"gave up resuming the reply of request {request_id} from {url} "
                    f"after {failures} attempts"
                )

    # -- GET stream ---------------------------------------------------------------------

    async def listen(self, opened: Callable[[], None] | None = None) -> None:
        """Hold the server's GET stream open, reconnecting with backoff, until cancelled.

        ``opened`` is called once, when the first attempt has an answer (a stream, a
        refusal or a failure), so a caller can wait until server messages can flow.
        Returns when the server offers no stream (405 or another 4xx), the session
        expired, auth failed, or the reconnection attempts ran out.
        """
        url = self._state.endpoint
        failures = 0
        first = True
        try:
            while True:
                if not first:
                    await asyncio.sleep(self._reconnect_delay(failures))
                first = False
                before = self._state.last_event_ids.get(GET_STREAM)
                kind: RequestKind = "resume" if before else "get"
                try:
                    resp = await self._send(kind, stream=GET_STREAM)
                    try:
                        if resp.status == 405:
                            log.debug("%s offers no GET stream (405)", url)
                            return
                        if not _is_success(resp.status):
                            await self._raise_for_status(resp, f"GET {url}")
                        if resp.content_type != "text/event-stream":
                            raise InvalidResponseError(
                                f"GET {url} answered {resp.content_type!r}, not an SSE stream"
                            )
                        if opened is not None:
                            opened()
                            opened = None
                        await self._read_stream(resp, GET_STREAM, None)
                    finally:
                        resp.release()
                except (SessionExpiredError, AuthError) as exc:
                    log.warning("GET stream of %s stopped: %s", url, exc)
                    return
                except HTTPStatusError as exc:
                    if 400 <= exc.status < 500 and exc.status not in (408, 429):
                        log.debug("%s offers no GET stream (%d)", url, exc.status)
                        return
                    failures += 1
                except MCPError as exc:
                    log.debug("GET stream of %s failed: %s", url, exc)
                    failures += 1
                else:
                    # A clean end is the server's way to make us poll (SEP-1699).
                    progressed = self._state.last_event_ids.get(GET_STREAM) != before
                    failures = 0 if progressed else failures + 1
                if opened is not None:
                    opened()
                    opened = None
                if failures > self._options.max_reconnect_attempts:
                    log.warning("GET stream of %s given up after %d attempts", url, failures)
                    return
        finally:
            if opened is not None:
                opened()

    # -- DELETE -------------------------------------------------------------------------

    async def delete_session(self) -> None:
        """End the session with DELETE (405 tolerated), bounded by ``delete_timeout``."""
        if self._state.session_id is None:
            return
        url = self._state.endpoint
        try:
            resp = await asyncio.wait_for(self._send("delete"), self._options.delete_timeout)
            resp.release()
            if resp.status not in (200, 202, 204, 404, 405):
                log.debug("DELETE %s answered %d", url, resp.status)
        except (MCPError, asyncio.TimeoutError) as exc:
            log.debug("DELETE %s failed: %s", url, exc)
        finally:
            self._state.session_id = None


_CONNECTOR: type[aiohttp.TCPConnector] | None = None


def _connector_class() -> type[aiohttp.TCPConnector]:
    """aiohttp's connector, with :data:`_READ_SIZE` socket reads on every connection.

    Made on first use, as aiohttp is imported on first use.
    """
    global _CONNECTOR
    if _CONNECTOR is None:

        class Connector(aiohttp.TCPConnector):
            async def connect(self, *args: Any, **kwargs: Any) -> aiohttp.connector.Connection:
                conn = await super().connect(*args, **kwargs)
                transport = conn.transport
                if transport is not None and getattr(transport, "max_size", 0) > _READ_SIZE:
                    setattr(transport, "max_size", _READ_SIZE)  # noqa: B010 (not in typeshed)
                return conn

        _CONNECTOR = Connector
    return _CONNECTOR

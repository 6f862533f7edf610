"""The one HTTP request path shared by the HTTP transports (Streamable HTTP, HTTP+SSE).

Owns: the connection pool (shared by a transport and the HTTP+SSE transport it may fall
back to, closed when the last of them closes), the proxy, and :meth:`HTTPSender.send`,
which takes every header from the :class:`~duomcp.connection.ConnectionState`, sends every
401/403 to the one auth path (whose sign-in does not count against call timeouts and has
its own bound), and turns a 404 on a request that carried a session into
:class:`~duomcp.errors.SessionExpiredError`. Requests never follow redirects.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from .._jsonrpc import loads_messages
from .._lazy import LazyModule
from .._net import env_proxy
from .._timeouts import wait_for
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
    ReplyLostError,
    SessionExpiredError,
    TransportError,
)

__all__ = ["HTTPOptions", "HTTPSender"]

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
# asyncio reads a plain TCP socket into a fresh 256 KiB buffer (``max_size``): at or above
# glibc's mmap threshold, that is an mmap, two page faults, an mremap and a munmap for
# every read, about 30 us a reply. 64 KiB comes from the heap with no system call. While a
# big reply arrives, reads go back to 256 KiB (see _read_sizes): 16 concurrent 256 KiB
# replies cost 25-40% more CPU in 64 KiB reads.
_READ_SIZE = 64 << 10
_SMALL_READ = 16 << 10  # a read this short ends a big reply's larger reads


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
    max_connections: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    """Connections the client keeps open to the server at most (each call in flight and
    each open stream holds one; further requests wait for a free one)."""
    sign_in_timeout: float = 900.0
    """Seconds a sign-in started by a 401/403 may take (discovery, registration, a person
    in the browser, the token request). It does not count against call timeouts."""


class HTTPSender:
    """Sends the HTTP requests of one connection; shared, by reference count, between a
    transport and the one it falls back to."""

    def __init__(
        self,
        state: ConnectionState,
        *,
        options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self.state = state
        self.options = options or HTTPOptions()
        self._http = http
        self._owns_http = http is None
        self._users = 0
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.options.connect_timeout)
        self._proxy = env_proxy(state.endpoint)

    def acquire(self) -> HTTPSender:
        """Count one more transport using this sender (each calls :meth:`release`)."""
        self._users += 1
        return self

    async def release(self) -> None:
        """One user is done; the last closes the connection pool if this sender made it."""
        self._users -= 1
        if self._users <= 0 and self._owns_http and self._http is not None:
            if not self._http.closed:
                await self._http.close()

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session (connection pool), made on first use."""
        if self._http is None:
            # trust_env=False: aiohttp would then look up the proxy and ~/.netrc in a worker
            # thread on every request (two thread hops per call), and a netrc entry would
            # clash with our Authorization header. The proxy is resolved once instead.
            self._http = aiohttp.ClientSession(
                trust_env=False,
                timeout=self.timeout,
                connector=_connector_class()(limit=self.options.max_connections, limit_per_host=0),
            )
        return self._http

    async def send(
        self,
        kind: RequestKind,
        *,
        body: bytes | None = None,
        stream: str | None = None,
        message: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one HTTP request with headers from the connection state.

        ``url`` is the endpoint unless given (the HTTP+SSE transport POSTs to the URL its
        stream named). A 401/403 goes to the auth path and the request is retried once
        when it says so.

        Raises:
            TransportError: no connection could be made (nothing was sent).
            ReplyLostError: the connection failed once the request was under way: the
                server may have received it.
            SessionExpiredError: a 404 to a request that carried a session.
            AuthorizationRequiredError: a 401/403 the auth path could not resolve.
        """
        method = _METHODS[kind]
        url = url or self.state.endpoint
        resent = False
        attempt = 0
        while attempt < 3:
            try:
                headers = await self.state.headers(kind, stream=stream, message=message, url=url)
            except ValueError as exc:
                raise InvalidRequestError(f"{method} {url}: {exc}") from exc
            sent_session = "Mcp-Session-Id" in headers
            data: Any = body if body is None or len(body) <= _BIG_BODY else _big_body(body)
            try:
                resp = await self.session().request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    allow_redirects=False,
                    timeout=self.timeout,
                    proxy=self._proxy,
                )
            except asyncio.TimeoutError as exc:
                raise TransportError(
                    f"{method} {url}: no connection within {self.options.connect_timeout} s"
                ) from exc
            except aiohttp.ClientConnectorError as exc:
                raise TransportError(f"{method} {url} failed: {exc or type(exc).__name__}") from exc
            except (aiohttp.ClientError, OSError) as exc:
                if _not_sent(exc) and not resent:
                    # A pooled connection the server had closed: the request never left;
                    # it goes once more, on a fresh connection.
                    resent = True
                    log.debug("%s %s: %s; sending it on a new connection", method, url, exc)
                    continue
                raise ReplyLostError(
                    f"{method} {url} failed after it was sent: {exc or type(exc).__name__}"
                ) from exc
            if resp.status in (401, 403):
                resp.release()
                challenge = AuthChallenge.from_response(
                    status=resp.status,
                    url=self.state.endpoint,  # the protected resource, whatever URL was hit
                    request_kind=kind,
                    www_authenticate=resp.headers.get("WWW-Authenticate"),
                    dpop_nonce=resp.headers.get("DPoP-Nonce"),
                )
                # Once for any challenge; once more when the retry after a sign-in is
                # asked for a DPoP nonce (RFC 9449 section 9): a new proof, nothing else.
                nonce = challenge.error == "use_dpop_nonce" and challenge.dpop_nonce
                if (attempt == 0 or (attempt == 1 and nonce)) and await self._sign_in(
                    challenge, headers
                ):
                    attempt += 1
                    continue
                raise_auth(challenge, method)
            if resp.status == 404 and sent_session:
                resp.release()
                raise SessionExpiredError(
                    f"{method} {url}: the server no longer knows session; starting a new one",
                    status=404,
                    url=url,
                )
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def _sign_in(self, challenge: AuthChallenge, sent: Mapping[str, str]) -> bool:
        """The one auth path: let the credential react to a 401/403, bounded by
        ``sign_in_timeout`` and not counted against the timeouts of waiting calls.

        A request refused with a credential that has been replaced since it was sent
        (another request's challenge refreshed it) is retried with the new one, without
        a second refresh."""
        auth = self.state.auth
        if auth is None:
            return False

        async def react() -> bool:
            # Compared and handed over in one step: no other task runs in between.
            if challenge.status == 401:
                current = await auth.auth_headers()
                if current.get("Authorization") != sent.get("Authorization"):
                    return True
            return await auth.handle_challenge(challenge)

        limit = self.options.sign_in_timeout
        with self.state.signing_in():
            try:
                return await wait_for(react(), limit)
            except asyncio.TimeoutError:
                raise AuthError(
                    f"signing in to {challenge.url} did not finish within {limit:.0f} s"
                ) from None

    async def raise_for_status(self, resp: aiohttp.ClientResponse, what: str) -> NoReturn:
        """Raise the error a non-success response stands for (a JSON-RPC error body wins)."""
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


def _not_sent(exc: BaseException) -> bool:
    """Whether aiohttp failed while writing the request (a connection the server had
    already closed), so the server cannot have received a whole request."""
    if isinstance(exc, aiohttp.ClientConnectionResetError):
        return "Cannot write to closing transport" in str(exc)
    text = str(exc)  # ClientOSError's text starts with its errno: "[Errno None] Can not..."
    return "Can not write request body" in text or text.startswith(
        "Failed to send bytes into the underlying connection"
    )


def raise_auth(challenge: AuthChallenge, method: str) -> NoReturn:
    """Raise the error of a 401/403 that the auth path did not resolve."""
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


_CONNECTOR: type[aiohttp.TCPConnector] | None = None
_BIG_BODY = 1 << 20  # aiohttp's TOO_LARGE_BYTES_BODY


def _big_body(body: bytes) -> Any:
    """A request body over 1 MiB (a big tool argument) as aiohttp's payload, made without
    the ResourceWarning aiohttp gives for raw bytes that big: a program that turns
    warnings into errors (as pytest setups often do) would see the call fail. The bytes
    are sent as they are, as with any body; nothing is awaited in here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sending a large body", ResourceWarning)
        return aiohttp.payload.BytesPayload(body, content_type="application/json")


def _read_sizes(proto: Any, transport: Any, big: int) -> Callable[[bytes], None]:
    """``proto.data_received``, also setting the next socket read's size from this one: a
    read that filled :data:`_READ_SIZE` means a big reply is arriving, read on in ``big``
    pieces (asyncio's own size: a 256 KiB reply in 2 reads, not 5) until a read under
    :data:`_SMALL_READ` (a small reply, or a big one's end)."""
    receive = type(proto).data_received
    owner = weakref.ref(proto)  # no cycle through the instance's own attribute

    def data_received(data: bytes) -> None:
        size = len(data)
        if size >= _READ_SIZE:
            transport.max_size = big
        elif 0 < size < _SMALL_READ:  # aiohttp calls it with b"" too, as it resumes reading
            transport.max_size = _READ_SIZE
        receive(owner(), data)

    return data_received


def _connector_class() -> type[aiohttp.TCPConnector]:
    """aiohttp's connector, with :data:`_READ_SIZE` socket reads on every connection.

    Made on first use, as aiohttp is imported on first use.
    """
    global _CONNECTOR
    if _CONNECTOR is None:

        class Connector(aiohttp.TCPConnector):
            # Once per new connection (a pooled one is not made again), not per request.
            async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
                proto = await super()._create_connection(*args, **kwargs)
                transport = proto.transport
                big = getattr(transport, "max_size", 0)
                if transport is not None and big > _READ_SIZE:
                    setattr(transport, "max_size", _READ_SIZE)  # noqa: B010 (not in typeshed)
                    receive = _read_sizes(proto, transport, big)
                    setattr(proto, "data_received", receive)  # noqa: B010 (a method)
                return proto

        _CONNECTOR = Connector
    return _CONNECTOR

"""Every exception duomcp raises, in one flat hierarchy rooted at :class:`MCPError`.

Transport failures also subclass :class:`ConnectionError`, and timeouts subclass
:class:`TimeoutError`, so ``except TimeoutError`` keeps working. No aiohttp, cattrs or
oauthlib exception leaves the library: each is translated with ``raise ... from``.
"""

from __future__ import annotations

from typing import Any

from ._redact import redact

__all__ = [
    "AuthError",
    "AuthorizationRequiredError",
    "CapabilityNotSupportedError",
    "ConnectionClosedError",
    "CredentialInUseError",
    "HTTPStatusError",
    "InputRequiredLimitError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidResponseError",
    "JSONRPCError",
    "MCPError",
    "MessageTooLargeError",
    "OutcomeUnknownError",
    "ProtocolError",
    "ReplyLostError",
    "RequestCancelledError",
    "RequestTimeoutError",
    "SSEDecodeError",
    "SessionExpiredError",
    "StructuredContentError",
    "TaskCancelledError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TransportError",
    "UnsupportedProtocolVersionError",
]


class MCPError(Exception):
    """Root of every error raised by duomcp. Its message never shows a credential held in
    a URL (userinfo, secret-looking query parameters): see ``duomcp._redact``."""

    def __str__(self) -> str:
        return redact(super().__str__())


# -- transport ---------------------------------------------------------------------------


class TransportError(MCPError, ConnectionError):
    """The connection to the server failed: network error, broken stream, unexpected reply."""


class ConnectionClosedError(TransportError):
    """The client or its connection was closed while a call was waiting."""


class HTTPStatusError(TransportError):
    """The server answered an HTTP request with a status the protocol does not allow there.

    Attributes:
        status: the HTTP status code.
        url: the URL that was requested.
        body: the first bytes of the reply body, decoded leniently, for diagnosis.
    """

    def __init__(self, message: str, *, status: int, url: str, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.body = body


class SessionExpiredError(HTTPStatusError):
    """The server answered 404 to a request that carried a session id: the session is gone."""


class SSEDecodeError(TransportError):
    """A server-sent event stream broke the event-stream format or a size cap."""


class MessageTooLargeError(SSEDecodeError):
    """A reply, SSE line or SSE event exceeded the configured size cap."""


# -- protocol ----------------------------------------------------------------------------


class ProtocolError(MCPError):
    """The server sent something the MCP protocol does not allow."""


class InvalidResponseError(ProtocolError):
    """A message from the server is not valid JSON-RPC or does not match the MCP schema."""


class UnsupportedProtocolVersionError(ProtocolError):
    """Client and server share no protocol version.

    Attributes:
        requested: the version the client offered.
        supported: the versions the server said it supports, when it said so.
    """

    def __init__(self, message: str, *, requested: str, supported: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.requested = requested
        self.supported = supported


class CapabilityNotSupportedError(ProtocolError):
    """The server did not declare the capability a call needs (e.g. ``logging``)."""


class StructuredContentError(ProtocolError):
    """A tool's ``structuredContent`` does not match the tool's ``outputSchema``."""


class JSONRPCError(ProtocolError):
    """The server answered a request with a JSON-RPC error object.

    Attributes:
        code: the JSON-RPC error code.
        message: the server's error message.
        data: the optional ``data`` member, as sent.
        http_status: the HTTP status the error came with, when it was the body of a
            non-2xx HTTP response (the modern era puts protocol errors there).
    """

    def __init__(
        self, code: int, message: str, data: Any = None, *, http_status: int | None = None
    ) -> None:
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.message = message
        self.data = data
        self.http_status = http_status


class InvalidRequestError(MCPError, ValueError):
    """The client refused to send a request it knows to be invalid (for example a tool
    argument that cannot be mirrored into the header the tool declares for it)."""


class ReplyLostError(TransportError):
    """The reply stream of a request broke before its response arrived, and the request
    cannot be resumed (modern era: no resumption). The request may or may not have run."""


class OutcomeUnknownError(ReplyLostError):
    """A request the server may act on (``tools/call`` of a tool not declared
    ``idempotentHint``, or any method that is not a read) was sent, and its reply was
    lost. The client did not send it again: it may or may not have run. Check the server's
    state before calling again."""

    def __init__(self, message: str, *, method: str) -> None:
        super().__init__(message)
        self.method = method


class TaskFailedError(JSONRPCError):
    """A task ended ``failed``: the request it ran failed with this JSON-RPC error.

    Attributes:
        task_id: the server's id of the task.
    """

    def __init__(self, task_id: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)
        self.task_id = task_id


class TaskCancelledError(MCPError):
    """A task ended ``cancelled`` (by :meth:`~duomcp.AsyncClient.cancel_task`, by another
    client, or by the server) before it produced a result.

    Attributes:
        task_id: the server's id of the task.
    """

    def __init__(self, message: str, *, task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id


class TaskNotFoundError(OutcomeUnknownError):
    """The server no longer knows a task it created (its time to live ran out, or the
    server restarted without keeping it). The work may or may not have run; the client
    never starts it again on its own.

    Attributes:
        task_id: the server's id of the task.
    """

    def __init__(self, message: str, *, task_id: str) -> None:
        super().__init__(message, method="tasks/get")
        self.task_id = task_id


class InputRequiredLimitError(ProtocolError):
    """A server kept asking for more input (multi round-trip request) beyond the client's
    ``max_input_rounds``."""


class RequestTimeoutError(MCPError, TimeoutError):
    """A request got no response within its timeout; the client cancelled it on the server."""


class RequestCancelledError(MCPError):
    """A request was cancelled before its response arrived."""


# -- auth --------------------------------------------------------------------------------


class AuthError(MCPError):
    """Authorization with the server failed."""


class CredentialInUseError(AuthError, RuntimeError):
    """A blocking call needs the credential while a task of the event loop that the
    calling thread runs holds it (a sign-in or renewal by an ``AsyncClient`` sharing it, in
    a notebook): that task cannot go on until the call returns, so the call fails at once
    instead of waiting for ever."""


class AuthorizationRequiredError(AuthError):
    """The server answered 401 or 403 and the client's auth could not satisfy it.

    Attributes:
        status: 401 or 403.
        url: the URL that was requested.
        www_authenticate: the ``WWW-Authenticate`` header of the reply, if any.
    """

    def __init__(
        self, message: str, *, status: int, url: str, www_authenticate: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.www_authenticate = www_authenticate


class InsufficientScopeError(AuthorizationRequiredError):
    """The server answered 403 ``insufficient_scope``: the token lacks a required scope."""

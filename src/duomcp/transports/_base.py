"""The interface every transport implements, and the one factory that picks one.

Owns: :class:`Transport`, the declared surface the engine uses (post a message, hold the
server's stream open, end the session, close, restart a local server that ended, offer a
fallback transport), and :func:`make_transport`, which turns what the user passed (a URL,
or a :class:`~duomcp.transports.stdio.StdioServer`) and the transport preference into a
transport. The engine never looks at a transport's type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import aiohttp

    from ..connection import ConnectionState
    from ._http import HTTPOptions

__all__ = ["Transport", "make_transport"]

OnMessage = Callable[[dict[str, Any]], None]


class Transport(Protocol):
    """How the engine reaches a server; every message from the server goes, in order, to
    the ``on_message`` callback the transport was made with."""

    @property
    def state(self) -> ConnectionState:
        """The connection state every request takes its headers (or version) from."""

    @property
    def options(self) -> HTTPOptions:
        """Limits and reconnection timings (also used by the engine's subscription loop)."""

    @property
    def probe_timeout(self) -> float | None:
        """How long to wait for an answer to the era probe (a legacy stdio server may
        ignore it), or ``None`` for the call's own timeout."""

    @property
    def remembers_era(self) -> bool:
        """Whether the era found for this endpoint is worth remembering for later clients."""

    @property
    def generation(self) -> int:
        """How many times a local server was started again after it ended."""

    def cancels_requests(self, era: str | None) -> bool:
        """Whether cancelling :meth:`post` tells the server itself (else the engine sends
        ``notifications/cancelled``)."""

    async def post(
        self,
        message: dict[str, Any],
        *,
        request_id: str | int | None = None,
        initialize: bool = False,
        response: asyncio.Future[Any] | None = None,
    ) -> None:
        """Send one message; for a request (``request_id`` given), return once its response
        was handed to ``on_message``.

        ``response``, where given, is the future ``on_message`` settles with the request's
        response: a transport that waits for the response on a stream shared by every
        request may wait on it, and raise what it holds (an error response, a deadline).

        Raises:
            ReplyLostError: the request was sent but its reply was lost.
            TransportError: the message could not be sent.
        """

    async def listen(self, opened: Callable[[], None] | None = None) -> None:
        """Hold the server's own message stream open (legacy GET stream) until cancelled;
        call ``opened`` once the first attempt has an answer."""

    async def delete_session(self) -> None:
        """End the session, if the transport has one (bounded; never raises)."""

    async def close(self) -> None:
        """Free every resource; idempotent."""

    async def revive(self, generation: int) -> bool:
        """Start again a local server that ended by itself, within the transport's restart
        policy; ``True`` when it was (by this call, or by another since ``generation``)."""

    def fallback(self) -> Transport | None:
        """Another transport to try for the same server when this one's requests are
        refused as if by an older server, or ``None``."""


def make_transport(
    target: Any,
    state: ConnectionState,
    *,
    on_message: OnMessage,
    sse: bool,
    options: HTTPOptions | None,
    http: aiohttp.ClientSession | None,
) -> Transport:
    """The transport for ``target``: stdio for a ``StdioServer``, else HTTP+SSE when
    ``sse`` (pinned, or remembered for the URL), else Streamable HTTP."""
    if not isinstance(target, str):
        from .stdio import StdioServer, StdioTransport  # imported on first use

        if not isinstance(target, StdioServer):
            raise TypeError(f"url must be an http(s) URL or a StdioServer, not {target!r}")
        return StdioTransport(state, on_message=on_message, server=target)
    if sse:
        from .legacy_sse import LegacySSETransport

        return LegacySSETransport(state, on_message=on_message, options=options, http=http)
    from .streamable_http import StreamableHTTPTransport

    return StreamableHTTPTransport(state, on_message=on_message, options=options, http=http)

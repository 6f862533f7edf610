"""The legacy era's sessions over HTTP: the session table, GET streams, DELETE, SSE replies.

:class:`LegacySessions` issues and finds sessions (``Mcp-Session-Id``, or one anonymous
session when ids are not issued), refuses requests without a usable one (400, 404), serves
the GET stream and resumption with ``Last-Event-ID`` from the event store, ends sessions on
DELETE, and writes a POST's reply stream (with the faults that cut or end it early).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ._host import LegacyHost
from ._http import SSE_HEADERS, json_error, media_types, pump
from ._session import Session
from ._streams import Event, EventStream, parse_event_id

__all__ = ["LegacySessions"]


class LegacySessions:
    """The sessions of a reference server and their session-scoped HTTP."""

    def __init__(self, host: LegacyHost) -> None:
        self.host = host
        self.table: dict[str, Session] = {}
        self.anonymous: Session | None = None  # the session when ids are not issued
        self.retired: list[Session] = []  # forgotten; their tasks still end at close()

    # -- the table --------------------------------------------------------------------------

    def open(self, version: str, capabilities: dict[str, Any]) -> tuple[Session, str | None]:
        """A new session (for ``initialize``), and the id to send, if ids are issued."""
        if self.host.faults.session_required:
            session_id = secrets.token_urlsafe(24)
            session = Session(session_id, version, capabilities)
            self.table[session_id] = session
            return session, session_id
        session = Session(None, version, capabilities)
        if self.anonymous is not None:
            self.retired.append(self.anonymous)
        self.anonymous = session
        return session, None

    def live(self) -> list[Session]:
        """The sessions a request may still use."""
        live = list(self.table.values())
        if self.anonymous is not None:
            live.append(self.anonymous)
        return live

    def forget(self) -> None:
        """Forget every session id (a lost session table); their streams stay open."""
        self.retired.extend(self.table.values())
        self.table.clear()

    def end_all(self) -> list[asyncio.Task[Any]]:
        """End every session, forgotten ones too; the request tasks that were stopped."""
        sessions = [*self.live(), *self.retired]
        self.table.clear()
        self.retired.clear()
        self.anonymous = None
        return [task for session in sessions for task in session.end()]

    def lookup(self, request: web.Request) -> Session | web.Response:
        """The request's session, or the error response (400, 404) to answer instead."""
        if self.host.faults.session_required:
            session_id = request.headers.get("Mcp-Session-Id")
            if not session_id:
                return json_error(400, -32600, "Bad Request: Mcp-Session-Id header is required")
            found = self.table.get(session_id)
            if found is None:
                return json_error(404, -32001, "Session not found")
            session = found
        elif self.anonymous is None:
            return json_error(400, -32600, "Bad Request: not initialized")
        else:
            session = self.anonymous
        version = request.headers.get("MCP-Protocol-Version")
        # A MUST once the client knows the version, i.e. after notifications/initialized
        # (while it resumes the initialize reply it cannot know it yet).
        if version is None and session.initialized and session.at_least("2025-06-18"):
            return json_error(
                400, -32600, f"Bad Request: MCP-Protocol-Version {session.version} is required"
            )
        if version is not None and version != session.version:
            return json_error(
                400,
                -32600,
                f"Bad Request: unsupported MCP-Protocol-Version {version!r}"
                f" (negotiated {session.version})",
            )
        return session

    def sessionless(self, request: web.Request) -> bool:
        """Whether ``request`` comes without any session (no id, or none initialized)."""
        if self.host.faults.session_required:
            return not request.headers.get("Mcp-Session-Id")
        return self.anonymous is None

    # -- GET and DELETE ---------------------------------------------------------------------

    async def get(self, request: web.Request) -> web.StreamResponse:
        """A GET: resume a stream after ``Last-Event-ID``, or open the session's GET stream."""
        if "text/event-stream" not in media_types(request):
            return json_error(406, -32600, "Not Acceptable: Accept must list text/event-stream")
        session = self.lookup(request)
        if isinstance(session, web.Response):
            return session
        last_event_id = request.headers.get("Last-Event-ID")
        if last_event_id is not None:
            parsed = parse_event_id(last_event_id)
            stream = session.streams.get(parsed[0]) if parsed is not None else None
            if parsed is None or stream is None:
                return json_error(400, -32600, f"Bad Request: unknown event id {last_event_id}")
            if stream is session.standalone:
                return await self._serve_get_stream(request, session, parsed[1])
            return await self.send_stream(request, stream, parsed[1])
        if not self.host.faults.get_stream:
            return json_error(405, -32600, "Method Not Allowed", headers={"Allow": "POST, DELETE"})
        return await self._serve_get_stream(request, session, None)

    async def _serve_get_stream(
        self, request: web.Request, session: Session, after: int | None
    ) -> web.StreamResponse:
        """The session's GET stream, from ``after`` or (None) where the last reader stopped."""
        stream = session.standalone
        if stream.has_live_reader():
            return json_error(409, -32600, "Conflict: the session's GET stream is already open")
        if stream.reader is not None and not stream.reader.done():
            stream.reader.cancel()  # a reader whose connection is gone
        task = asyncio.current_task()
        stream.reader, stream.reader_transport = task, request.transport
        if after is None:
            after = stream.cursor
            retry_ms = self.host.faults.retry_ms
            if retry_ms is not None:
                stream.insert_after_cursor(Event("priming", retry_ms=retry_ms))
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            await pump(request, response, stream, after)
        except ConnectionError:
            pass
        except asyncio.CancelledError:  # drop_streams(), a newer reader, or shutdown
            if request.transport is not None:
                request.transport.abort()
        finally:
            if stream.reader is task:
                stream.reader = stream.reader_transport = None
        return response

    def delete(self, request: web.Request) -> web.StreamResponse:
        """A DELETE: end the session (unless ``faults.delete_status`` says otherwise)."""
        session = self.lookup(request)
        if isinstance(session, web.Response):
            return session
        status = self.host.faults.delete_status
        if 200 <= status < 300:
            if session.id is not None:
                self.table.pop(session.id, None)
            elif session is self.anonymous:
                self.anonymous = None
            session.end()
        headers = {"Allow": "GET, POST"} if status == 405 else None
        return web.Response(status=status, headers=headers)

    async def drop_streams(self) -> None:
        """Abort the connection of every open GET stream."""
        for session in self.live():
            reader = session.standalone.reader
            if reader is not None and not reader.done():
                reader.cancel()

    # -- SSE replies ------------------------------------------------------------------------

    async def send_stream(
        self,
        request: web.Request,
        stream: EventStream,
        after: int,
        *,
        headers: Mapping[str, str] | None = None,
        drop_after: int | None = None,
        close_after_priming: bool = False,
    ) -> web.StreamResponse:
        """Send ``stream``'s events after sequence number ``after`` until it is done.

        ``drop_after``: cut the connection after that many events, and before a response.
        """
        response = web.StreamResponse(headers={**SSE_HEADERS, **(headers or {})})
        await response.prepare(request)
        try:
            await pump(
                request,
                response,
                stream,
                after,
                drop_after=drop_after,
                cut_before_response=drop_after is not None,
                end_after_priming=close_after_priming,
            )
        except ConnectionError:  # the client went away; the events stay stored
            pass
        return response

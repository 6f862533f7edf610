"""A reference MCP server for tests, docs and demos: ``python -m duomcp.testing`` serves it.

It speaks the legacy Streamable HTTP transport (protocol versions 2025-11-25, 2025-06-18
and 2025-03-26) with sessions, JSON or SSE replies, a GET stream and an event store for
resumption; offers tools, resources, prompts, completion and logging; sends
server-to-client requests; and misbehaves on demand (:class:`ServerFaults`). Everything it
receives is recorded for assertions (:class:`RecordedRequest`).

With ``ReferenceServer(era="modern")`` (or ``"dual"``) it also speaks the modern era,
protocol 2026-07-28: stateless POSTs with per-request ``_meta`` and routing headers,
``server/discover``, caching hints, multi round-trip requests and ``subscriptions/listen``.

With ``ReferenceServer(tasks=True)`` (or a shared :class:`TaskStore`) it also runs tool
calls as tasks: the 2025-11-25 tasks utility and the 2026-07-28 tasks extension.
"""

from __future__ import annotations

from ._authserver import AuthorizationServer, AuthServerSettings
from ._server import RecordedRequest, ReferenceServer, ServerFaults
from ._tasks import TaskStore

__all__ = [
    "AuthServerSettings",
    "AuthorizationServer",
    "RecordedRequest",
    "ReferenceServer",
    "ServerFaults",
    "TaskStore",
]

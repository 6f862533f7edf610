"""A reference MCP server for tests, docs and demos: ``python -m duomcp.testing`` serves it.

It speaks the legacy Streamable HTTP transport with sessions, JSON or SSE replies, a GET
stream and an event store for resumption, offers tools, resources, prompts, completion
and logging fixtures, sends server-to-client requests, and injects faults on demand
(:class:`ServerFaults`). Everything it receives is recorded for assertions.
"""

from __future__ import annotations

from ._authserver import AuthorizationServer, AuthServerSettings
from ._server import RecordedRequest, ReferenceServer, ServerFaults

__all__ = [
    "AuthServerSettings",
    "AuthorizationServer",
    "RecordedRequest",
    "ReferenceServer",
    "ServerFaults",
]

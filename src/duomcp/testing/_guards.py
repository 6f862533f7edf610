"""The checks every request to the MCP endpoint passes before either era sees it.

A browser page from a foreign ``Origin`` gets 403 (DNS rebinding protection); with the
built-in authorization server, a request needs a token it issued (401) and a
``tools/call`` the scope the tool needs (403); and ``ServerFaults.require_bearer`` and
``ServerFaults.forbid`` refuse on demand. :func:`refusal` is the response to send instead
of an answer, or None.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ._authserver import AuthorizationServer
from ._host import ServerFaults
from ._http import json_error

__all__ = ["LOCAL_HOSTS", "refusal"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Origins on these hosts (and on the server's own) are always allowed."""


def refusal(
    request: web.Request,
    body: Any,
    *,
    host: str,
    auth_server: AuthorizationServer | None,
    faults: ServerFaults,
) -> web.Response | None:
    """The response refusing ``request``, or None when it may be answered."""
    return (
        origin_refusal(request, host)
        or oauth_refusal(request, body, auth_server)
        or bearer_refusal(request, faults)
    )


def origin_refusal(request: web.Request, host: str) -> web.Response | None:
    """403 for a browser page from another origin (DNS rebinding protection)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    try:
        origin_host = urlsplit(origin).hostname
    except ValueError:
        origin_host = None
    if origin_host is not None and (origin_host in LOCAL_HOSTS or origin_host == host.strip("[]")):
        return None
    return json_error(403, -32600, f"Forbidden: origin {origin} is not allowed")


def oauth_refusal(
    request: web.Request, body: Any, server: AuthorizationServer | None
) -> web.Response | None:
    """401 without a token ``server`` issued; 403 when a tool needs a scope not granted."""
    if server is None:
        return None
    header = request.headers.get("Authorization", "")
    scopes = server.scopes_of(header[7:]) if header.startswith("Bearer ") else None
    if scopes is None:
        challenge = f'Bearer error="invalid_token", resource_metadata="{server.prm_url}"'
        return web.json_response(
            {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": challenge}
        )
    if isinstance(body, dict) and body.get("method") == "tools/call":
        params = body.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        needed = server.settings.tool_scopes.get(str(name))
        if needed and needed not in scopes:
            challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
            return web.json_response(
                {"error": "insufficient_scope"},
                status=403,
                headers={"WWW-Authenticate": challenge},
            )
    return None


def bearer_refusal(request: web.Request, faults: ServerFaults) -> web.Response | None:
    """The refusals ``faults.require_bearer`` (401) and ``faults.forbid`` (403) ask for."""
    if faults.require_bearer is not None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != faults.require_bearer:
            challenge = 'Bearer error="invalid_token", error_description="token required"'
            return web.json_response(
                {"error": "invalid_token"},
                status=401,
                headers={"WWW-Authenticate": challenge},
            )
    if faults.forbid:
        return web.json_response(
            {"error": "insufficient_scope"},
            status=403,
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"'},
        )
    return None

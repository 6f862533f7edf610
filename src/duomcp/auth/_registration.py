"""OAuth client registration: which client this is at one authorization server.

Owns :class:`OAuthClientInfo` and how one is obtained, in order: a pre-registered client
id (with its secret, if any), a client ID metadata document URL (CIMD) where the
authorization server supports it, else dynamic client registration (RFC 7591). A dynamic
registration is kept in the token storage under the issuer, with the redirect URI it was
registered for. The client secret never appears in a repr or a log line.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import attrs

from .._lazy import LazyModule
from ..errors import AuthError
from ._discovery import MAX_BODY, Discovery, is_loopback, require_secure
from ._session import AuthHTTP
from ._storage import TokenStorage

__all__ = ["OAuthClientInfo", "forget_client", "load_client", "register"]

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")


@attrs.frozen(kw_only=True)
class OAuthClientInfo:
    """The client's registration with one authorization server."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    token_endpoint_auth_method: str = "none"


def _client_key(issuer: str) -> str:
    return f"client:{issuer}"


async def load_client(storage: TokenStorage, issuer: str) -> tuple[OAuthClientInfo, str] | None:
    """The registration stored for ``issuer`` and the redirect URI it was made for."""
    stored = await storage.load(_client_key(issuer))
    if not stored or "client_id" not in stored:
        return None
    client = OAuthClientInfo(
        client_id=str(stored["client_id"]),
        client_secret=stored.get("client_secret"),
        token_endpoint_auth_method=str(stored.get("token_endpoint_auth_method", "none")),
    )
    return client, str(stored.get("redirect_uri", ""))


async def forget_client(storage: TokenStorage, issuer: str) -> None:
    """Drop the registration stored for ``issuer`` (the server rejected it)."""
    await storage.delete(_client_key(issuer))


async def register(
    http: AuthHTTP,
    found: Discovery,
    *,
    storage: TokenStorage,
    redirect_uri: str,
    client_name: str,
    preregistered: OAuthClientInfo | None = None,
    client_metadata_url: str | None = None,
) -> OAuthClientInfo:
    """The client to use at ``found``'s authorization server: pre-registered, CIMD or
    registered now (and stored)."""
    if preregistered is not None:
        return preregistered
    if client_metadata_url and found.client_id_metadata_document_supported:
        return OAuthClientInfo(client_id=client_metadata_url)
    endpoint = found.registration_endpoint
    if not endpoint:
        raise AuthError(
            f"{found.issuer} offers no registration; give OAuth a client_id "
            "(pre-registered) or a client_metadata_url"
        )
    require_secure(endpoint, "registration endpoint")
    supported = found.token_endpoint_auth_methods_supported or ("client_secret_basic",)
    method = next(
        (m for m in ("none", "client_secret_basic", "client_secret_post") if m in supported),
        "client_secret_basic",
    )
    body = {
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": "native" if is_loopback(redirect_uri) else "web",
    }
    try:
        async with http.post(endpoint, json=body) as resp:
            raw = await resp.content.read(MAX_BODY)
            status = resp.status
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        raise AuthError(f"registration at {endpoint} failed: {exc}") from exc
    if status not in (200, 201):
        raise AuthError(f"registration at {endpoint} was refused ({status})")
    try:
        info = json.loads(raw)
        client = OAuthClientInfo(
            client_id=str(info["client_id"]),
            client_secret=info.get("client_secret"),
            token_endpoint_auth_method=str(info.get("token_endpoint_auth_method") or method),
        )
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise AuthError(f"registration at {endpoint} answered without a client_id") from exc
    await storage.save(
        _client_key(found.issuer), {**attrs.asdict(client), "redirect_uri": redirect_uri}
    )
    return client

"""OAuth discovery: from an MCP server URL to the authorization server that guards it.

Owns RFC 9728 protected-resource metadata and RFC 8414 / OpenID authorization-server
metadata lookup, the checks on what they say (resource, issuer, PKCE S256, https
endpoints) and the 2025-03-26 fallback where the MCP server is its own authorization
server. :func:`discover` returns one immutable :class:`Discovery`; nothing here holds
state, and nothing secret passes through it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from .._lazy import LazyModule
from ..errors import AuthError
from ._errors import IssuerMismatchError, ResourceMismatchError
from ._session import AuthHTTP

__all__ = [
    "MAX_BODY",
    "Discovery",
    "authorization_server_metadata_urls",
    "discover",
    "is_loopback",
    "protected_resource_metadata_urls",
    "require_secure",
]

log = logging.getLogger("duomcp.auth")

MAX_BODY = 1 << 20  # the most read of any authorization-server (or IdP) response

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")


@attrs.frozen(kw_only=True)
class Discovery:
    """What discovery found for one MCP server: its resource and authorization server."""

    issuer: str
    """The authorization server: the resource metadata's first, else the server's origin."""
    resource: str
    """The RFC 8707 resource: the resource metadata's, else the MCP server URL."""
    metadata_issuer: str | None
    """The ``issuer`` the authorization server's metadata names (none in the fallback)."""
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    scopes_supported: tuple[str, ...] = ()
    """The resource metadata's ``scopes_supported``."""
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    client_id_metadata_document_supported: bool = False
    iss_parameter_supported: bool = False
    """RFC 9207: the authorization response must then carry ``iss``."""
    dpop_signing_alg_values_supported: tuple[str, ...] = ()
    """RFC 9449: the DPoP proof algorithms the authorization server accepts."""
    revocation_endpoint: str | None = None
    """RFC 7009: where tokens are revoked at sign-out, if anywhere."""

    @property
    def issuer_identifier(self) -> str:
        """The issuer as the authorization server names itself, else the discovered one."""
        return self.metadata_issuer or self.issuer


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine."""
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def require_secure(url: str, what: str) -> None:
    """Refuse a URL that is not https, unless its host is loopback."""
    if urlsplit(url).scheme != "https" and not is_loopback(url):
        raise AuthError(f"{what} {url} is not https; only loopback servers may use http")


def protected_resource_metadata_urls(server_url: str, challenge_url: str | None) -> list[str]:
    """RFC 9728 candidates in order: the challenge's URL, path-aware, then root."""
    path = urlsplit(server_url).path.rstrip("/")
    origin = origin_of(server_url)
    urls = [challenge_url] if challenge_url else []
    if path:
        urls.append(f"{origin}/.well-known/oauth-protected-resource{path}")
    urls.append(f"{origin}/.well-known/oauth-protected-resource")
    return urls


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 and OpenID discovery candidates in the order the MCP spec gives."""
    path = urlsplit(issuer).path.rstrip("/")
    origin = origin_of(issuer)
    if path:
        return [
            f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}/.well-known/openid-configuration{path}",
            f"{origin}{path}/.well-known/openid-configuration",
        ]
    return [
        f"{origin}/.well-known/oauth-authorization-server",
        f"{origin}/.well-known/openid-configuration",
    ]


def _resource_matches(resource: str, server_url: str) -> bool:
    """The metadata's resource must be the server URL or a parent of it, same origin."""
    if origin_of(resource) != origin_of(server_url):
        return False
    parent = urlsplit(resource).path.rstrip("/")
    path = urlsplit(server_url).path.rstrip("/")
    return path == parent or path.startswith(parent + "/")


def _strings(value: Any) -> tuple[str, ...]:
    """A metadata list of strings as a tuple (a lone string counts as a space-separated list)."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, (list, tuple)):
        return tuple(str(item) for item in value)
    return ()


async def _get_json(http: AuthHTTP, url: str) -> dict[str, Any] | None:
    try:
        async with http.get(url, allow_redirects=False) as resp:
            if resp.status != 200 or "json" not in resp.content_type:
                log.debug("discovery: %s answered %d %s", url, resp.status, resp.content_type)
                return None
            raw = await resp.content.read(MAX_BODY + 1)
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        log.debug("discovery: %s failed: %s", url, exc)
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to parse
        return None
    return data if isinstance(data, dict) else None


async def _resource_metadata(
    http: AuthHTTP, server_url: str, challenge_url: str | None
) -> dict[str, Any] | None:
    """The first protected-resource metadata naming an authorization server, if any."""
    for url in protected_resource_metadata_urls(server_url, challenge_url):
        prm = await _get_json(http, url)
        if (
            prm
            and isinstance(prm.get("authorization_servers"), list)
            and prm["authorization_servers"]
        ):
            resource = str(prm.get("resource") or server_url)
            if not _resource_matches(resource, server_url):
                raise ResourceMismatchError(
                    f"{url} names resource {resource!r}, which is not {server_url}: "
                    "refusing to send credentials for another resource"
                )
            return prm
    return None


async def _authorization_server_metadata(
    http: AuthHTTP, issuer: str, *, check_issuer: bool
) -> dict[str, Any] | None:
    """The first authorization-server metadata with a token endpoint, checked, if any."""
    for url in authorization_server_metadata_urls(issuer):
        metadata = await _get_json(http, url)
        if metadata and "token_endpoint" in metadata:
            if check_issuer and metadata.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
                raise IssuerMismatchError(
                    f"{url} says issuer {metadata.get('issuer')!r}, expected {issuer!r}"
                )
            methods = metadata.get("code_challenge_methods_supported")
            if methods is not None and "S256" not in methods:
                raise AuthError(f"{issuer} does not support PKCE S256; refusing")
            return metadata
    return None


async def discover(http: AuthHTTP, server_url: str, resource_metadata_url: str | None) -> Discovery:
    """Find the authorization server for the MCP server at ``server_url``.

    ``resource_metadata_url`` is the one the server's challenge named, tried first.
    """
    prm = await _resource_metadata(http, server_url, resource_metadata_url)
    if prm is not None:
        resource = str(prm.get("resource") or server_url)
        issuer = str(prm["authorization_servers"][0])
    else:
        resource = server_url
        issuer = origin_of(server_url)  # 2025-03-26: the MCP server is the AS
    metadata = await _authorization_server_metadata(http, issuer, check_issuer=prm is not None)
    if metadata is None:
        if prm is not None:
            raise AuthError(f"no authorization server metadata found for {issuer}")
        origin = origin_of(server_url)
        metadata = {
            "authorization_endpoint": f"{origin}/authorize",
            "token_endpoint": f"{origin}/token",
            "registration_endpoint": f"{origin}/register",
        }
    endpoints = {}
    for key in ("authorization_endpoint", "token_endpoint"):
        endpoints[key] = str(metadata.get(key, ""))
        require_secure(endpoints[key], key.replace("_", " "))
    registration = metadata.get("registration_endpoint")
    revocation = metadata.get("revocation_endpoint")
    if revocation:
        require_secure(str(revocation), "revocation endpoint")
    return Discovery(
        issuer=issuer,
        resource=resource,
        metadata_issuer=str(metadata["issuer"]) if metadata.get("issuer") else None,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        registration_endpoint=str(registration) if registration else None,
        scopes_supported=_strings(prm.get("scopes_supported")) if prm else (),
        token_endpoint_auth_methods_supported=_strings(
            metadata.get("token_endpoint_auth_methods_supported")
        ),
        client_id_metadata_document_supported=bool(
            metadata.get("client_id_metadata_document_supported")
        ),
        iss_parameter_supported=bool(
            metadata.get("authorization_response_iss_parameter_supported")
        ),
        dpop_signing_alg_values_supported=_strings(
            metadata.get("dpop_signing_alg_values_supported")
        ),
        revocation_endpoint=str(revocation) if revocation else None,
    )

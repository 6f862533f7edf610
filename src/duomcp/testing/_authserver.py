"""A reference OAuth 2.1 authorization server for the reference MCP server.

Metadata (RFC 9728 protected resource, RFC 8414), dynamic registration (RFC 7591),
Client ID Metadata Documents,
authorize (auto-approving) and token (authorization code with PKCE S256, refresh with
rotation, client credentials, JWT bearer assertions, RFC 7523), revocation (RFC 7009) and
DPoP (RFC 9449: bound tokens, proofs checked at the token endpoint and, by a middleware,
at the MCP endpoint, optional nonces), with configurable lifetimes, scopes and faults. It
shares the MCP server's origin and is its issuer.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import aiohttp
import attrs
from aiohttp import web

__all__ = ["AuthServerSettings", "AuthorizationServer"]

_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@attrs.define
class AuthServerSettings:
    """How the reference authorization server behaves; tests may change it live."""

    access_token_lifetime: float = 3600.0
    rotate_refresh_tokens: bool = True
    scopes_supported: tuple[str, ...] = ("mcp:read", "mcp:write")
    tool_scopes: dict[str, str] = attrs.field(factory=dict)
    """Scope a ``tools/call`` of the named tool needs (403 insufficient_scope without)."""
    reject_client_once: bool = False
    """The next token request is refused with ``invalid_client`` (registration lost)."""
    unavailable: int = 0
    """The next this-many token requests get 503 (a transient outage)."""
    auto_approve: bool = True
    """False: the user declines, /authorize redirects with ``error=access_denied``."""
    client_metadata_documents: bool = True
    """Accept URL client ids (Client ID Metadata Documents), fetched on first use."""
    dpop: bool = False
    """Offer DPoP (ES256): a token request with a proof gets a token bound to its key,
    which the MCP endpoint then accepts only as ``DPoP`` with a valid proof."""
    dpop_nonce: str | None = None
    """With ``dpop``: proofs must carry this nonce, at the token and the MCP endpoint."""
    revocation: bool = True
    """Offer a revocation endpoint (RFC 7009)."""
    jwt_bearer_key: str | None = None
    """A public key (PEM): the JWT bearer grant accepts assertions it signed, for this
    issuer as audience."""


@attrs.define
class _Grant:
    client_id: str
    scope: str
    resource: str
    expires_at: float
    jkt: str | None = None  # the thumbprint of the DPoP key the token is bound to


class AuthorizationServer:
    """Routes and state of the authorization server; see :class:`AuthServerSettings`."""

    def __init__(self, settings: AuthServerSettings) -> None:
        self.settings = settings
        self.issuer = ""
        self.resource = ""
        self.clients: dict[str, dict[str, Any]] = {}
        self.token_requests: collections.Counter[str] = collections.Counter()
        self.authorize_requests = 0
        self.registrations = 0
        self.revoked: list[str] = []
        """The ``token_type_hint`` of every token revoked."""
        self.dpop_proofs: list[dict[str, Any]] = []
        """The claims of every DPoP proof accepted (token and MCP endpoints)."""
        self.dpop_refusals: list[str] = []
        """Why each refused DPoP proof was refused (``use_dpop_nonce``...)."""
        self.assertions: list[dict[str, Any]] = []
        """The claims of every JWT bearer assertion accepted."""
        self._jtis: set[str] = set()
        self._mcp_path = ""
        self._codes: dict[str, dict[str, Any]] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}

    def install(self, app: web.Application, mcp_path: str) -> None:
        """Add the metadata, registration, authorize and token routes to ``app``."""
        app.router.add_get(f"/.well-known/oauth-protected-resource{mcp_path}", self._prm)
        app.router.add_get("/.well-known/oauth-authorization-server", self._metadata)
        app.router.add_post("/register", self._register)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/revoke", self._revoke)
        self._mcp_path = mcp_path

        @web.middleware
        async def dpop_guard(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            return await self._dpop_guard(request, handler)

        app.middlewares.append(dpop_guard)

    def bind(self, origin: str, resource: str) -> None:
        """Set the issuer (the server's origin) and the protected resource URL."""
        self.issuer, self.resource = origin, resource

    @property
    def prm_url(self) -> str:
        """URL of the protected resource metadata."""
        return (
            f"{self.issuer}/.well-known/oauth-protected-resource{self.resource[len(self.issuer) :]}"
        )

    def expire_all(self) -> None:
        """Make every issued access token expired (refresh tokens stay valid)."""
        for grant in self._access.values():
            grant.expires_at = 0

    def revoke_refresh_tokens(self) -> None:
        """Forget every refresh token: refreshing then fails with ``invalid_grant``."""
        self._refresh.clear()

    def scopes_of(self, token: str) -> set[str] | None:
        """The scopes of a valid access token, or ``None`` if it is unknown or expired."""
        grant = self._access.get(token)
        if grant is None or grant.expires_at < time.time():
            return None
        return set(grant.scope.split())

    # -- endpoints ----------------------------------------------------------------------

    async def _prm(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "resource": self.resource,
                "authorization_servers": [self.issuer],
                "scopes_supported": list(self.settings.scopes_supported),
            }
        )

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "registration_endpoint": f"{self.issuer}/register",
                "response_types_supported": ["code"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                ],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "none",
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": list(self.settings.scopes_supported),
                "authorization_response_iss_parameter_supported": True,
                "client_id_metadata_document_supported": self.settings.client_metadata_documents,
                **({"dpop_signing_alg_values_supported": ["ES256"]} if self.settings.dpop else {}),
                **(
                    {"revocation_endpoint": f"{self.issuer}/revoke"}
                    if self.settings.revocation
                    else {}
                ),
            }
        )

    async def _register(self, request: web.Request) -> web.Response:
        body = await request.json()
        redirect_uris = body.get("redirect_uris") or []
        if not isinstance(redirect_uris, list):
            return web.json_response({"error": "invalid_redirect_uri"}, status=400)
        method = body.get("token_endpoint_auth_method", "client_secret_basic")
        client = {
            "client_id": f"client-{secrets.token_hex(8)}",
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": method,
        }
        if method != "none":
            client["client_secret"] = secrets.token_urlsafe(24)
        self.clients[client["client_id"]] = client
        self.registrations += 1
        return web.json_response(client, status=201)

    async def _client(self, client_id: str) -> dict[str, Any] | None:
        """A registered client, or one described by its metadata document (CIMD)."""
        client = self.clients.get(client_id)
        if client is not None or not self.settings.client_metadata_documents:
            return client
        if not client_id.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
            return None
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.get(client_id, allow_redirects=False) as resp:
                    document = await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, OSError, ValueError, asyncio.TimeoutError):
            return None
        if not isinstance(document, dict) or document.get("client_id") != client_id:
            return None
        client = {
            "client_id": client_id,
            "redirect_uris": list(document.get("redirect_uris") or []),
            "token_endpoint_auth_method": "none",
        }
        self.clients[client_id] = client
        return client

    async def _authorize(self, request: web.Request) -> web.Response:
        self.authorize_requests += 1
        q = request.query
        client = await self._client(q.get("client_id", ""))
        if client is None:
            return web.json_response({"error": "invalid_client"}, status=400)
        redirect = q.get("redirect_uri", "")
        if redirect not in client["redirect_uris"]:
            return web.json_response({"error": "invalid_redirect_uri"}, status=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.json_response(
                {"error": "invalid_request", "error_description": "PKCE S256 required"}, status=400
            )
        if not self.settings.auto_approve:
            denied = {"error": "access_denied", "state": q.get("state", ""), "iss": self.issuer}
            raise web.HTTPFound(f"{redirect}?{urlencode(denied)}")
        code = secrets.token_urlsafe(24)
        self._codes[code] = {
            "client_id": client["client_id"],
            "redirect_uri": redirect,
            "challenge": q["code_challenge"],
            "scope": q.get("scope", ""),
            "resource": q.get("resource", ""),
        }
        params = {"code": code, "state": q.get("state", ""), "iss": self.issuer}
        raise web.HTTPFound(f"{redirect}?{urlencode(params)}")

    async def _client_of(self, request: web.Request, form: Any) -> dict[str, Any] | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret")
        client = await self._client(client_id)
        if client is None:
            return None
        if client.get("client_secret") is not None and client["client_secret"] != secret:
            return None
        return client

    def _issue(self, grant: _Grant, *, refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        grant = attrs.evolve(grant, expires_at=time.time() + self.settings.access_token_lifetime)
        self._access[token] = grant
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "DPoP" if grant.jkt else "Bearer",
            "expires_in": self.settings.access_token_lifetime,
            "scope": grant.scope,
        }
        if refresh:
            refresh_token = secrets.token_urlsafe(24)
            self._refresh[refresh_token] = grant
            body["refresh_token"] = refresh_token
        return body

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        self.token_requests[grant_type] += 1
        if self.settings.unavailable > 0:
            self.settings.unavailable -= 1
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        if self.settings.reject_client_once:
            self.settings.reject_client_once = False
            self.clients.clear()
            return web.json_response({"error": "invalid_client"}, status=401)
        client = await self._client_of(request, form)
        if client is None:
            return web.json_response({"error": "invalid_client"}, status=401)
        jkt: str | None = None
        if self.settings.dpop and "DPoP" in request.headers:
            checked = self._check_proof(request, None)
            if isinstance(checked, web.Response):
                return checked
            jkt = checked
        if grant_type == "authorization_code":
            entry = self._codes.pop(str(form.get("code", "")), None)
            verifier = str(form.get("code_verifier", ""))
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if (
                entry is None
                or entry["client_id"] != client["client_id"]
                or entry["redirect_uri"] != form.get("redirect_uri")
                or digest.rstrip(b"=").decode() != entry["challenge"]
            ):
                return web.json_response({"error": "invalid_grant"}, status=400)
            grant = _Grant(client["client_id"], entry["scope"], entry["resource"], 0, jkt)
            return web.json_response(self._issue(grant, refresh=True))
        if grant_type == "refresh_token":
            token = str(form.get("refresh_token", ""))
            previous = self._refresh.get(token)
            if previous is None or previous.client_id != client["client_id"]:
                return web.json_response({"error": "invalid_grant"}, status=400)
            if previous.jkt is not None and previous.jkt != jkt:  # bound to the DPoP key
                return web.json_response({"error": "invalid_grant"}, status=400)
            if self.settings.rotate_refresh_tokens:
                del self._refresh[token]
            rotate = self.settings.rotate_refresh_tokens
            return web.json_response(self._issue(previous, refresh=rotate))
        if grant_type == "client_credentials":
            scope = str(form.get("scope", ""))
            grant = _Grant(client["client_id"], scope, str(form.get("resource", "")), 0, jkt)
            return web.json_response(self._issue(grant, refresh=False))
        if grant_type == _JWT_BEARER and self.settings.jwt_bearer_key:
            claims = self._assertion(str(form.get("assertion", "")))
            if claims is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self.assertions.append(claims)
            scope = str(form.get("scope", ""))
            grant = _Grant(client["client_id"], scope, str(form.get("resource", "")), 0, jkt)
            return web.json_response(self._issue(grant, refresh=False))
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    def _assertion(self, assertion: str) -> dict[str, Any] | None:
        import jwt

        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self.settings.jwt_bearer_key or "",
                algorithms=["ES256", "RS256"],
                audience=[self.issuer, f"{self.issuer}/"],
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        return claims

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        if await self._client_of(request, form) is None:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = str(form.get("token", ""))
        found = self._access.pop(token, None) or self._refresh.pop(token, None)
        if found is not None:
            self.revoked.append(str(form.get("token_type_hint", "")))
        return web.Response(status=200)

    # -- DPoP (RFC 9449) ------------------------------------------------------------------

    def _dpop_refusal(self, error: str, *, resource: bool) -> web.Response:
        self.dpop_refusals.append(error)
        headers = {"DPoP-Nonce": self.settings.dpop_nonce} if self.settings.dpop_nonce else {}
        if resource:
            headers["WWW-Authenticate"] = f'DPoP error="{error}", algs="ES256"'
            return web.json_response({"error": error}, status=401, headers=headers)
        return web.json_response({"error": error}, status=400, headers=headers)

    def _check_proof(self, request: web.Request, token: str | None) -> str | web.Response:
        """The thumbprint of a valid proof's key, else the refusal (``token``: at the
        MCP endpoint, the access token the proof must name)."""
        import jwt

        resource = token is not None
        proof = request.headers.get("DPoP", "")
        try:
            header = jwt.get_unverified_header(proof)
            jwk = header.get("jwk")
            if header.get("typ") != "dpop+jwt" or not isinstance(jwk, dict) or "d" in jwk:
                raise ValueError("not a DPoP proof")
            key = jwt.PyJWK(jwk, algorithm="ES256")
            claims = jwt.decode(proof, key.key, algorithms=["ES256"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return self._dpop_refusal("invalid_dpop_proof", resource=resource)
        url = urlsplit(str(request.url))
        expected = f"{url.scheme}://{url.netloc}{url.path}"
        ath = token and base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest())
        if (
            claims.get("htm") != request.method
            or claims.get("htu") != expected
            or abs(time.time() - float(claims.get("iat", 0))) > 60
            or not claims.get("jti")
            or claims["jti"] in self._jtis
            or (ath and claims.get("ath") != ath.rstrip(b"=").decode())
        ):
            return self._dpop_refusal("invalid_dpop_proof", resource=resource)
        if self.settings.dpop_nonce and claims.get("nonce") != self.settings.dpop_nonce:
            return self._dpop_refusal("use_dpop_nonce", resource=resource)
        self._jtis.add(claims["jti"])
        self.dpop_proofs.append(claims)
        members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
        digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

    async def _dpop_guard(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """At the MCP endpoint: a DPoP-bound token needs ``DPoP`` and a proof by its key;
        the request then goes on as a bearer request (what the token check knows)."""
        if request.path != self._mcp_path:
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        grant = self._access.get(token)
        if scheme.lower() == "dpop":
            checked = self._check_proof(request, token)
            if isinstance(checked, web.Response):
                return checked
            if grant is not None and grant.jkt != checked:
                return self._dpop_refusal("invalid_token", resource=True)
            headers = request.headers.copy()
            headers["Authorization"] = f"Bearer {token}"
            return await handler(request.clone(headers=headers))
        if grant is not None and grant.jkt is not None:  # a bound token sent as a bearer
            return self._dpop_refusal("invalid_token", resource=True)
        return await handler(request)

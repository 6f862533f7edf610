"""OAuth 2.1 for MCP servers: discovery, registration, authorization code with PKCE,
refresh and step-up, behind the one :class:`~duomcp.auth.Auth` path.

Every 401 or 403 of every request reaches :meth:`OAuth.handle_challenge`; concurrent
challenges share one flow. oauthlib builds the PKCE values and the authorization URL;
discovery, registration and token handling are here. No token, code, verifier or secret
is ever logged.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

import attrs

from .._lazy import LazyModule
from ..errors import AuthError
from ._base import Auth, AuthChallenge
from ._browser import LoopbackLogin
from ._storage import MemoryTokenStorage, TokenStorage

__all__ = ["ClientCredentials", "CrossAppAccess", "OAuth", "OAuthClientInfo", "OAuthTokens"]

log = logging.getLogger("duomcp.auth")

Interaction = Callable[[str], "Awaitable[str] | str"]
"""Given the authorization URL, let the user sign in; return the redirect URL reached.

An async function, or a plain one (it runs in a worker thread, so it may block: a blocking
client's users write plain functions)."""

_REFRESH_MARGIN = 30.0  # seconds before expiry at which a token is refreshed
_MAX_AUTHORIZATIONS = 3  # within _AUTHORIZATION_WINDOW seconds: no endless loops
_AUTHORIZATION_WINDOW = 60.0
_MAX_BODY = 1 << 20
_TIMEOUT_SECONDS = 30.0

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")


def _http_session() -> aiohttp.ClientSession:
    """A short-lived session for authorization-server requests, bounded in time."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_TIMEOUT_SECONDS))


class _InvalidClient(AuthError):
    """The authorization server does not know (or no longer accepts) the client."""


class _InvalidGrant(AuthError):
    """The authorization server no longer honours the grant (e.g. a revoked refresh token)."""


@attrs.frozen(kw_only=True)
class OAuthClientInfo:
    """The client's registration with one authorization server."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    token_endpoint_auth_method: str = "none"


@attrs.frozen(kw_only=True)
class OAuthTokens:
    """Tokens from the authorization server; ``expires_at`` is absolute (epoch seconds)."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None

    def expiring(self, now: float) -> bool:
        """Whether the access token expires within the refresh margin."""
        return self.expires_at is not None and self.expires_at - _REFRESH_MARGIN <= now


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def _require_secure(url: str, what: str) -> None:
    if urlsplit(url).scheme != "https" and not _is_loopback(url):
        raise AuthError(f"{what} {url} is not https; only loopback servers may use http")


def protected_resource_metadata_urls(server_url: str, challenge_url: str | None) -> list[str]:
    """RFC 9728 candidates in order: the challenge's URL, path-aware, then root."""
    path = urlsplit(server_url).path.rstrip("/")
    origin = _origin(server_url)
    urls = [challenge_url] if challenge_url else []
    if path:
        urls.append(f"{origin}/.well-known/oauth-protected-resource{path}")
    urls.append(f"{origin}/.well-known/oauth-protected-resource")
    return urls


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 and OpenID discovery candidates in the order the MCP spec gives."""
    path = urlsplit(issuer).path.rstrip("/")
    origin = _origin(issuer)
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
    if _origin(resource) != _origin(server_url):
        return False
    parent = urlsplit(resource).path.rstrip("/")
    path = urlsplit(server_url).path.rstrip("/")
    return path == parent or path.startswith(parent + "/")


class OAuth(Auth):
    """OAuth 2.1 authorization code with PKCE (S256), started by any 401 or 403.

    Args:
        interaction: shows the user the authorization URL and returns the redirect URL
            the browser reached (with ``code`` and ``state``): an async function, or a
            plain one, which then runs in a worker thread and may block.
        redirect_uri: the redirect URI registered for this client.
        client_id: a pre-registered client id (else CIMD, else dynamic registration).
        client_secret: the pre-registered client's secret, if it has one.
        client_metadata_url: an https URL of this client's metadata document (CIMD),
            used as client id where the authorization server supports it.
        scopes: scopes to ask for when the server names none.
        client_name: the name shown to the user at registration.
        storage: where registrations and tokens are kept (memory by default; use
            :class:`~duomcp.auth.FileTokenStorage` to survive restarts).
    """

    def __init__(
        self,
        *,
        interaction: Interaction,
        redirect_uri: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        client_metadata_url: str | None = None,
        scopes: str | None = None,
        client_name: str = "duomcp",
        storage: TokenStorage | None = None,
    ) -> None:
        self._interaction = interaction
        self._storage: TokenStorage = storage if storage is not None else MemoryTokenStorage()
        self._restored = False
        self._redirect_uri = redirect_uri
        self._preregistered = (
            OAuthClientInfo(
                client_id=client_id,
                client_secret=client_secret,
                token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
            )
            if client_id
            else None
        )
        self._client_metadata_url = client_metadata_url
        self._scopes = scopes
        self._client_name = client_name
        self._client: OAuthClientInfo | None = None
        self._tokens: OAuthTokens | None = None
        self._metadata: dict[str, Any] | None = None
        self._resource_metadata: dict[str, Any] | None = None
        self._issuer: str | None = None
        self._server_url = ""
        self._granted_scopes: set[str] = set()
        self._lock = asyncio.Lock()
        self._generation = 0
        self._authorized_at: list[float] = []

    def __repr__(self) -> str:
        return f"OAuth(client={self._client!r}, authorized={self._tokens is not None})"

    @property
    def tokens(self) -> OAuthTokens | None:
        """The current tokens, if authorized."""
        return self._tokens

    async def sign_out(self) -> bool:
        """Forget the tokens stored for the server this object has talked to; return whether
        there were any. The registration is kept (a later sign-in reuses it); the
        authorization server is not told (no RFC 7009 revocation).
        """
        if self._issuer is None:
            return False  # never challenged: no idea where tokens would be kept
        client = self._client or await self._load_client()
        self._tokens = None
        if client is None:
            return False
        self._client = client
        key = self._tokens_key(self._resource())
        found = await self._storage.load(key) is not None
        await self._storage.delete(key)
        return found

    async def auth_headers(self) -> Mapping[str, str]:
        """The bearer header, refreshing an expiring token first (one refresh at a time)."""
        tokens = self._tokens
        if tokens is not None and tokens.refresh_token and tokens.expiring(time.time()):
            generation = self._generation
            async with self._lock:
                if self._generation == generation:
                    await self._refresh_or_none()
            tokens = self._tokens
        return {} if tokens is None else {"Authorization": f"Bearer {tokens.access_token}"}

    async def handle_challenge(self, challenge: AuthChallenge) -> bool:
        """Run discovery, registration and authorization (or refresh, or step-up)."""
        generation = self._generation
        async with self._lock:
            if self._generation != generation:
                return True  # another request's challenge already produced a new token
            if challenge.status == 403 and challenge.error != "insufficient_scope":
                return False
            if (
                challenge.status == 401
                and self._tokens is not None
                and self._tokens.refresh_token
                and await self._refresh_or_none()
            ):
                return True
            if not self._restored:
                self._restored = True
                if await self._restore(challenge):
                    return True
            now = time.monotonic()
            recent = [t for t in self._authorized_at if now - t < _AUTHORIZATION_WINDOW]
            if len(recent) >= _MAX_AUTHORIZATIONS:
                log.warning("gave up on %s after %d authorizations", challenge.url, len(recent))
                return False
            self._authorized_at = [*recent, now]
            await self._authorize(challenge)
            return True

    # -- storage ------------------------------------------------------------------------

    def _client_key(self) -> str:
        return f"client:{self._issuer}"

    def _tokens_key(self, resource: str) -> str:
        assert self._client is not None
        return f"tokens:{self._issuer}|{resource}|{self._client.client_id}"

    async def _restore(self, challenge: AuthChallenge) -> bool:
        """Load a stored registration and tokens; ``True`` when usable tokens result."""
        async with _http_session() as http:
            if self._metadata is None:
                await self._discover(http, challenge)
        if self._client is None:
            self._client = await self._load_client()
        if self._client is None or self._tokens is not None:
            return False
        stored = await self._storage.load(self._tokens_key(self._resource()))
        if not stored or "access_token" not in stored:
            return False
        self._tokens = OAuthTokens(
            access_token=str(stored["access_token"]),
            refresh_token=stored.get("refresh_token"),
            expires_at=stored.get("expires_at"),
            scope=stored.get("scope"),
        )
        if self._tokens.scope:
            self._granted_scopes |= set(self._tokens.scope.split())
        self._generation += 1
        if self._tokens.refresh_token or self._tokens.expiring(time.time()):
            # A new process cannot know whether the server still accepts the stored
            # access token; one refresh settles it without bothering the user.
            return await self._refresh_or_none()
        return True

    async def _load_client(self) -> OAuthClientInfo | None:
        if self._preregistered is not None:
            return self._preregistered
        stored = await self._storage.load(self._client_key())
        if not stored or "client_id" not in stored:
            return None
        stored_redirect = str(stored.get("redirect_uri", ""))
        if stored_redirect != self._redirect_uri:
            login = self._interaction
            if isinstance(login, LoopbackLogin) and login.adopt(stored_redirect):
                self._redirect_uri = login.redirect_uri  # same port as when registered
            else:
                return None  # registered for another redirect URI: register again
        return OAuthClientInfo(
            client_id=str(stored["client_id"]),
            client_secret=stored.get("client_secret"),
            token_endpoint_auth_method=str(stored.get("token_endpoint_auth_method", "none")),
        )

    async def _forget_client(self) -> None:
        self._client = None
        await self._storage.delete(self._client_key())

    # -- discovery ----------------------------------------------------------------------

    async def _get_json(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
        try:
            async with http.get(url, allow_redirects=False) as resp:
                if resp.status != 200 or "json" not in resp.content_type:
                    log.debug("discovery: %s answered %d %s", url, resp.status, resp.content_type)
                    return None
                raw = await resp.content.read(_MAX_BODY + 1)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            log.debug("discovery: %s failed: %s", url, exc)
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def _discover(self, http: aiohttp.ClientSession, challenge: AuthChallenge) -> None:
        server_url = self._server_url = challenge.url
        for url in protected_resource_metadata_urls(server_url, challenge.resource_metadata):
            prm = await self._get_json(http, url)
            if (
                prm
                and isinstance(prm.get("authorization_servers"), list)
                and prm["authorization_servers"]
            ):
                resource = str(prm.get("resource") or server_url)
                if not _resource_matches(resource, server_url):
                    raise AuthError(
                        f"{url} names resource {resource!r}, which is not {server_url}: "
                        "refusing to send credentials for another resource"
                    )
                self._resource_metadata = prm
                self._issuer = str(prm["authorization_servers"][0])
                break
        else:
            self._issuer = _origin(server_url)  # 2025-03-26: the MCP server is the AS
        for url in authorization_server_metadata_urls(self._issuer):
            metadata = await self._get_json(http, url)
            if metadata and "token_endpoint" in metadata:
                if self._resource_metadata is not None and metadata.get("issuer", "").rstrip(
                    "/"
                ) != self._issuer.rstrip("/"):
                    raise AuthError(
                        f"{url} says issuer {metadata.get('issuer')!r}, expected {self._issuer!r}"
                    )
                methods = metadata.get("code_challenge_methods_supported")
                if methods is not None and "S256" not in methods:
                    raise AuthError(f"{self._issuer} does not support PKCE S256; refusing")
                self._metadata = metadata
                break
        else:
            if self._resource_metadata is not None:
                raise AuthError(f"no authorization server metadata found for {self._issuer}")
            origin = _origin(server_url)
            self._metadata = {
                "authorization_endpoint": f"{origin}/authorize",
                "token_endpoint": f"{origin}/token",
                "registration_endpoint": f"{origin}/register",
            }
        for key in ("authorization_endpoint", "token_endpoint"):
            _require_secure(str(self._metadata.get(key, "")), key.replace("_", " "))

    # -- registration -------------------------------------------------------------------

    async def _register(self, http: aiohttp.ClientSession) -> OAuthClientInfo:
        if self._preregistered is not None:
            return self._preregistered
        assert self._metadata is not None
        if self._client_metadata_url and self._metadata.get(
            "client_id_metadata_document_supported"
        ):
            return OAuthClientInfo(client_id=self._client_metadata_url)
        endpoint = self._metadata.get("registration_endpoint")
        if not endpoint:
            raise AuthError(
                f"{self._issuer} offers no registration; give OAuth a client_id "
                "(pre-registered) or a client_metadata_url"
            )
        _require_secure(endpoint, "registration endpoint")
        supported = self._metadata.get("token_endpoint_auth_methods_supported") or [
            "client_secret_basic"
        ]
        method = next(
            (m for m in ("none", "client_secret_basic", "client_secret_post") if m in supported),
            "client_secret_basic",
        )
        body = {
            "client_name": self._client_name,
            "redirect_uris": [self._redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "application_type": "native" if _is_loopback(self._redirect_uri) else "web",
        }
        try:
            async with http.post(endpoint, json=body) as resp:
                raw = await resp.content.read(_MAX_BODY)
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
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(f"registration at {endpoint} answered without a client_id") from exc
        await self._storage.save(
            self._client_key(), {**attrs.asdict(client), "redirect_uri": self._redirect_uri}
        )
        return client

    # -- authorization ------------------------------------------------------------------

    def _scope(self, challenge: AuthChallenge) -> str | None:
        wanted = challenge.scope
        if (
            not wanted
            and self._resource_metadata
            and self._resource_metadata.get("scopes_supported")
        ):
            wanted = " ".join(self._resource_metadata["scopes_supported"])
        wanted = wanted or self._scopes
        if challenge.status == 403 and wanted:  # step-up: keep what was granted before
            return " ".join(sorted(self._granted_scopes | set(wanted.split())))
        return wanted

    def _resource(self) -> str:
        """The RFC 8707 resource: the metadata's, else the MCP server URL."""
        if self._resource_metadata and self._resource_metadata.get("resource"):
            return str(self._resource_metadata["resource"])
        return self._server_url

    async def _authorize(self, challenge: AuthChallenge) -> None:
        try:
            await self._authorize_once(challenge)
        except _InvalidClient as exc:
            if self._preregistered is not None:
                raise AuthError(
                    "the authorization server rejected the pre-registered client (invalid_client)"
                ) from exc
            log.info("the registration was rejected (invalid_client); registering again")
            await self._forget_client()
            await self._authorize_once(challenge)

    async def _authorize_once(self, challenge: AuthChallenge) -> None:
        # imported here: most clients never authorize, and oauthlib costs ~20 ms to import
        from oauthlib.common import add_params_to_uri
        from oauthlib.oauth2 import WebApplicationClient

        async with _http_session() as http:
            # Discovered again for every sign-in: the resource may have moved to another
            # authorization server, whose registration is its own (SEP-2352).
            previous = self._issuer
            await self._discover(http, challenge)
            assert self._metadata is not None
            if previous is not None and self._issuer != previous:
                log.info("authorization server changed from %s to %s", previous, self._issuer)
                self._client = None
                self._tokens = None
            if self._client is None:
                self._client = await self._load_client() or await self._register(http)
            client = self._client
            oauth = WebApplicationClient(client.client_id)
            verifier = oauth.create_code_verifier(64)
            state = secrets.token_urlsafe(24)
            scope = self._scope(challenge)
            resource = self._resource()
            params = [
                ("response_type", "code"),
                ("client_id", client.client_id),
                ("redirect_uri", self._redirect_uri),
                ("state", state),
                ("code_challenge", oauth.create_code_challenge(verifier, "S256")),
                ("code_challenge_method", "S256"),
                ("resource", resource),
            ]
            if scope:
                params.append(("scope", scope))
            url = add_params_to_uri(str(self._metadata["authorization_endpoint"]), params)
            log.info("authorization needed for %s at %s", challenge.url, self._issuer)
            try:
                redirected = await _interact(self._interaction, url)
            except AuthError:
                raise
            except Exception as exc:
                raise AuthError(f"the sign-in failed: {type(exc).__name__}: {exc}") from exc
            query = {k: v[0] for k, v in parse_qs(urlsplit(redirected).query).items()}
            if query.get("state") != state:
                raise AuthError("the authorization response's state does not match: refused")
            if query.get("error") == "invalid_client":
                raise _InvalidClient("invalid_client")
            if "error" in query:
                raise AuthError(
                    f"authorization failed: {query['error']} {query.get('error_description', '')}"
                )
            # RFC 9207: the issuer is compared exactly, without any URL normalization.
            expected_issuer = str(self._metadata.get("issuer") or self._issuer or "")
            if "iss" in query and query["iss"] != expected_issuer:
                raise AuthError("the authorization response names another issuer: refused")
            if "iss" not in query and self._metadata.get(
                "authorization_response_iss_parameter_supported"
            ):
                raise AuthError(
                    "the authorization server promised an iss parameter (RFC 9207) and the "
                    "authorization response has none: refused"
                )
            if "code" not in query:
                raise AuthError("the authorization response carries no code")
            await self._token_request(
                http,
                {
                    "grant_type": "authorization_code",
                    "code": query["code"],
                    "redirect_uri": self._redirect_uri,
                    "code_verifier": verifier,
                    "resource": resource,
                },
                requested_scope=scope,
            )

    def _authenticate_client(
        self, client: OAuthClientInfo, form: dict[str, str], headers: dict[str, str]
    ) -> None:
        """Add the client's authentication to a token request."""
        if client.token_endpoint_auth_method == "client_secret_basic" and client.client_secret:
            pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            return
        form["client_id"] = client.client_id
        if client.token_endpoint_auth_method == "client_secret_post" and client.client_secret:
            form["client_secret"] = client.client_secret

    async def _refresh_or_none(self) -> bool:
        """Refresh the access token; ``False`` when the grant is gone (re-authorize)."""
        tokens = self._tokens
        if tokens is None or not tokens.refresh_token or self._metadata is None:
            return False
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "resource": self._resource(),
        }
        try:
            async with _http_session() as http:
                await self._token_request(http, form, requested_scope=tokens.scope)
        except (_InvalidGrant, _InvalidClient) as exc:
            log.info("refresh refused (%s); authorizing again", exc)
            self._tokens = None
            return False
        # Any other failure (network, 5xx) is transient: the tokens are kept and the
        # error reaches the caller; a later call refreshes again.
        return True

    async def _token_request(
        self, http: aiohttp.ClientSession, form: dict[str, str], *, requested_scope: str | None
    ) -> None:
        assert self._metadata is not None and self._client is not None
        client = self._client
        endpoint = str(self._metadata["token_endpoint"])
        headers = {"Accept": "application/json"}
        self._authenticate_client(client, form, headers)
        try:
            async with http.post(endpoint, data=form, headers=headers) as resp:
                raw = await resp.content.read(_MAX_BODY)
                status = resp.status
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise AuthError(f"token request to {endpoint} failed: {exc}") from exc
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise AuthError(f"token endpoint {endpoint} answered {status} without JSON") from exc
        if not isinstance(data, dict):
            raise AuthError(f"token endpoint {endpoint} answered {status} with a non-object")
        if status != 200 or "access_token" not in data:
            error = data.get("error", "unknown error")
            if error == "invalid_client":
                raise _InvalidClient(f"token endpoint {endpoint} rejected the client")
            if error == "invalid_grant":
                raise _InvalidGrant(f"token endpoint {endpoint} refused the grant (invalid_grant)")
            raise AuthError(f"token endpoint {endpoint} refused ({status}): {error}")
        if str(data.get("token_type", "")).lower() != "bearer":
            raise AuthError(f"token endpoint {endpoint} issued a non-bearer token")
        expires_in = data.get("expires_in")
        old = self._tokens
        scope = data.get("scope") or requested_scope
        self._tokens = OAuthTokens(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token") or (old.refresh_token if old else None),
            expires_at=time.time() + float(expires_in) if expires_in else None,
            scope=scope,
        )
        if scope:
            self._granted_scopes |= set(scope.split())
        self._generation += 1
        await self._storage.save(self._tokens_key(self._resource()), attrs.asdict(self._tokens))


async def _interact(interaction: Interaction, url: str) -> str:
    """Run the interaction: awaited if async, in a worker thread if it is a plain function."""
    if inspect.iscoroutinefunction(interaction) or inspect.iscoroutinefunction(
        getattr(interaction, "__call__", None)  # noqa: B004 (an object with async __call__)
    ):
        return await interaction(url)  # type: ignore[misc, no-any-return]
    result = await asyncio.to_thread(interaction, url)
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        result = await result
    return str(result)


async def _no_interaction(url: str) -> str:
    raise AuthError("the client credentials grant has no user interaction")


_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ClientCredentials(OAuth):
    """OAuth 2.1 client credentials grant, for machine clients with no user.

    Discovery works as for :class:`OAuth`; the token comes straight from the token
    endpoint. The client authenticates with a secret (``client_secret_basic`` or
    ``client_secret_post``) or with a signed JWT (``private_key_jwt``, RFC 7523: give
    ``private_key_pem``; needs the ``jwt`` extra, PyJWT with cryptography).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None = None,
        private_key_pem: str | None = None,
        signing_algorithm: str = "ES256",
        scopes: str | None = None,
        token_endpoint_auth_method: str | None = None,
    ) -> None:
        method = token_endpoint_auth_method or (
            "private_key_jwt" if private_key_pem else "client_secret_basic"
        )
        if method not in ("client_secret_basic", "client_secret_post", "private_key_jwt"):
            raise ValueError(
                "token_endpoint_auth_method: client_secret_basic, client_secret_post "
                "or private_key_jwt"
            )
        if (method == "private_key_jwt") != (private_key_pem is not None):
            raise ValueError("private_key_jwt needs private_key_pem, and only it uses one")
        if method != "private_key_jwt" and not client_secret:
            raise ValueError(f"{method} needs a client_secret")
        self._private_key = private_key_pem
        self._signing_algorithm = signing_algorithm
        token_endpoint_auth_method = method
        super().__init__(
            interaction=_no_interaction,
            redirect_uri="",
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
        )
        self._preregistered = OAuthClientInfo(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=token_endpoint_auth_method,
        )

    def _authenticate_client(
        self, client: OAuthClientInfo, form: dict[str, str], headers: dict[str, str]
    ) -> None:
        if self._private_key is None:
            super()._authenticate_client(client, form, headers)
            return
        try:
            import jwt
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise AuthError("private_key_jwt needs PyJWT: pip install 'duomcp[jwt]'") from exc
        assert self._metadata is not None
        now = int(time.time())
        claims = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": str(self._metadata.get("issuer") or self._metadata["token_endpoint"]),
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
        try:
            assertion = jwt.encode(claims, self._private_key, algorithm=self._signing_algorithm)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthError(f"cannot sign the client assertion: {type(exc).__name__}") from None
        form["client_id"] = client.client_id
        form["client_assertion_type"] = _JWT_BEARER
        form["client_assertion"] = assertion

    async def _authorize(self, challenge: AuthChallenge) -> None:
        async with _http_session() as http:
            if self._metadata is None:
                await self._discover(http, challenge)
            self._client = self._preregistered
            scope = self._scope(challenge)
            form = {"grant_type": "client_credentials", "resource": self._resource()}
            if scope:
                form["scope"] = scope
            await self._token_request(http, form, requested_scope=scope)


_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
_JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class CrossAppAccess(OAuth):
    """Enterprise-managed authorization (SEP-990, "cross-app access"): no login prompt.

    The user's ID token from the enterprise identity provider (IdP) is exchanged at the
    IdP for an identity assertion grant (ID-JAG, RFC 8693 token exchange) for this MCP
    server's authorization server, which then issues the access token for it (RFC 7523
    JWT bearer grant), authenticating this pre-registered client with its secret.

    Args:
        client_id: this client's id at the MCP server's authorization server.
        client_secret: its secret there.
        id_token: the user's ID token from the IdP.
        idp_token_endpoint: the IdP's token endpoint.
        idp_client_id: this client's id at the IdP, when the IdP wants it.
        scopes: scopes to ask for when the server names none.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        id_token: str,
        idp_token_endpoint: str,
        idp_client_id: str | None = None,
        scopes: str | None = None,
    ) -> None:
        _require_secure(idp_token_endpoint, "IdP token endpoint")
        super().__init__(
            interaction=_no_interaction,
            redirect_uri="",
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
        )
        self._id_token = id_token
        self._idp_token_endpoint = idp_token_endpoint
        self._idp_client_id = idp_client_id

    def __repr__(self) -> str:
        return f"CrossAppAccess(idp={self._idp_token_endpoint!r})"

    async def _authorize(self, challenge: AuthChallenge) -> None:
        async with _http_session() as http:
            if self._metadata is None:
                await self._discover(http, challenge)
            assert self._metadata is not None
            self._client = self._preregistered
            scope = self._scope(challenge)
            exchange = {
                "grant_type": _TOKEN_EXCHANGE,
                "subject_token": self._id_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "audience": str(self._metadata.get("issuer") or self._issuer),
                "resource": self._resource(),
            }
            if self._idp_client_id:
                exchange["client_id"] = self._idp_client_id
            if scope:
                exchange["scope"] = scope
            try:
                async with http.post(self._idp_token_endpoint, data=exchange) as resp:
                    raw = await resp.content.read(_MAX_BODY)
                    status = resp.status
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                raise AuthError(
                    f"token exchange at {self._idp_token_endpoint} failed: {exc}"
                ) from exc
            try:
                grant = json.loads(raw)
            except ValueError:
                grant = {}
            if status != 200 or "access_token" not in grant:
                raise AuthError(
                    f"the IdP refused the token exchange ({status}): "
                    f"{grant.get('error', 'no assertion issued')}"
                )
            await self._token_request(
                http,
                {"grant_type": _JWT_BEARER_GRANT, "assertion": str(grant["access_token"])},
                requested_scope=scope,
            )

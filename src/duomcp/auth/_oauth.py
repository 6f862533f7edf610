"""OAuth 2.1 for MCP servers: authorization code with PKCE, refresh and step-up, and the
client credentials and cross-app access grants, behind the one :class:`~duomcp.auth.Auth`
path.

Every 401 or 403 of every request reaches :meth:`OAuth.handle_challenge`; concurrent
challenges share one flow. Discovery is in :mod:`._discovery`, client registration in
:mod:`._registration`; oauthlib builds the PKCE values and the authorization URL; the
token handling is here. No token, code, verifier or secret is ever logged.
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
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit

import attrs

from .._executors import INTERACTIONS
from .._lazy import LazyModule
from ..errors import AuthError
from ._base import Auth, AuthChallenge
from ._browser import LoopbackLogin
from ._discovery import MAX_BODY, Discovery, discover, require_secure
from ._discovery import (  # re-exported: they were defined here
    authorization_server_metadata_urls as authorization_server_metadata_urls,
)
from ._discovery import (
    protected_resource_metadata_urls as protected_resource_metadata_urls,
)
from ._registration import OAuthClientInfo, forget_client, load_client, register
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
class OAuthTokens:
    """Tokens from the authorization server; ``expires_at`` is absolute (epoch seconds)."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None

    def expiring(self, now: float) -> bool:
        """Whether the access token expires within the refresh margin."""
        return self.expires_at is not None and self.expires_at - _REFRESH_MARGIN <= now


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
        self._discovery: Discovery | None = None  # what the last discovery found
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
        if self._discovery is None:
            return False  # never challenged: no idea where tokens would be kept
        client = self._client or await self._load_client()
        self._tokens = None
        if client is None:
            return False
        self._client = client
        key = self._tokens_key()
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

    def _tokens_key(self) -> str:
        assert self._discovery is not None and self._client is not None
        found = self._discovery
        return f"tokens:{found.issuer}|{found.resource}|{self._client.client_id}"

    async def _restore(self, challenge: AuthChallenge) -> bool:
        """Load a stored registration and tokens; ``True`` when usable tokens result."""
        if self._discovery is None:
            async with _http_session() as http:
                await self._discover(http, challenge)
        if self._client is None:
            self._client = await self._load_client()
        if self._client is None or self._tokens is not None:
            return False
        stored = await self._storage.load(self._tokens_key())
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
        assert self._discovery is not None
        stored = await load_client(self._storage, self._discovery.issuer)
        if stored is None:
            return None
        client, registered_for = stored
        if registered_for != self._redirect_uri:
            login = self._interaction
            if isinstance(login, LoopbackLogin) and login.adopt(registered_for):
                self._redirect_uri = login.redirect_uri  # same port as when registered
            else:
                return None  # registered for another redirect URI: register again
        return client

    # -- discovery --------------------------------------------------------------------

    async def _discover(self, http: aiohttp.ClientSession, challenge: AuthChallenge) -> Discovery:
        found = await discover(http, challenge.url, challenge.resource_metadata)
        self._discovery = found
        return found

    # -- authorization ------------------------------------------------------------------

    def _scope(self, challenge: AuthChallenge) -> str | None:
        wanted = challenge.scope
        if not wanted and self._discovery is not None and self._discovery.scopes_supported:
            wanted = " ".join(self._discovery.scopes_supported)
        wanted = wanted or self._scopes
        if challenge.status == 403 and wanted:  # step-up: keep what was granted before
            return " ".join(sorted(self._granted_scopes | set(wanted.split())))
        return wanted

    async def _authorize(self, challenge: AuthChallenge) -> None:
        try:
            await self._authorize_once(challenge)
        except _InvalidClient as exc:
            if self._preregistered is not None:
                raise AuthError(
                    "the authorization server rejected the pre-registered client (invalid_client)"
                ) from exc
            log.info("the registration was rejected (invalid_client); registering again")
            assert self._discovery is not None
            self._client = None
            await forget_client(self._storage, self._discovery.issuer)
            await self._authorize_once(challenge)

    async def _authorize_once(self, challenge: AuthChallenge) -> None:
        # imported here: most clients never authorize, and oauthlib costs ~20 ms to import
        from oauthlib.common import add_params_to_uri
        from oauthlib.oauth2 import WebApplicationClient

        async with _http_session() as http:
            # Discovered again for every sign-in: the resource may have moved to another
            # authorization server, whose registration is its own (SEP-2352).
            previous = self._discovery.issuer if self._discovery is not None else None
            found = await self._discover(http, challenge)
            if previous is not None and found.issuer != previous:
                log.info("authorization server changed from %s to %s", previous, found.issuer)
                self._client = None
                self._tokens = None
            if self._client is None:
                self._client = await self._load_client() or await register(
                    http,
                    found,
                    storage=self._storage,
                    redirect_uri=self._redirect_uri,
                    client_name=self._client_name,
                    preregistered=self._preregistered,
                    client_metadata_url=self._client_metadata_url,
                )
            client = self._client
            oauth = WebApplicationClient(client.client_id)
            verifier = oauth.create_code_verifier(64)
            state = secrets.token_urlsafe(24)
            scope = self._scope(challenge)
            resource = found.resource
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
            url = add_params_to_uri(found.authorization_endpoint, params)
            log.info("authorization needed for %s at %s", challenge.url, found.issuer)
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
            if "iss" in query and query["iss"] != found.issuer_identifier:
                raise AuthError("the authorization response names another issuer: refused")
            if "iss" not in query and found.iss_parameter_supported:
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
        if tokens is None or not tokens.refresh_token or self._discovery is None:
            return False
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "resource": self._discovery.resource,
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
        assert self._discovery is not None and self._client is not None
        client = self._client
        endpoint = self._discovery.token_endpoint
        headers = {"Accept": "application/json"}
        self._authenticate_client(client, form, headers)
        try:
            async with http.post(endpoint, data=form, headers=headers) as resp:
                raw = await resp.content.read(MAX_BODY)
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
        await self._storage.save(self._tokens_key(), attrs.asdict(self._tokens))


async def _interact(interaction: Interaction, url: str) -> str:
    """Run the interaction: awaited if async, in a worker thread if it is a plain function."""
    if inspect.iscoroutinefunction(interaction) or inspect.iscoroutinefunction(
        getattr(interaction, "__call__", None)  # noqa: B004 (an object with async __call__)
    ):
        return await interaction(url)  # type: ignore[misc, no-any-return]
    result = await INTERACTIONS.run(interaction, url)
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
        assert self._discovery is not None
        now = int(time.time())
        claims = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": self._discovery.metadata_issuer or self._discovery.token_endpoint,
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
            found = self._discovery or await self._discover(http, challenge)
            self._client = self._preregistered
            scope = self._scope(challenge)
            form = {"grant_type": "client_credentials", "resource": found.resource}
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
        require_secure(idp_token_endpoint, "IdP token endpoint")
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
            found = self._discovery or await self._discover(http, challenge)
            self._client = self._preregistered
            scope = self._scope(challenge)
            exchange = {
                "grant_type": _TOKEN_EXCHANGE,
                "subject_token": self._id_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "audience": found.issuer_identifier,
                "resource": found.resource,
            }
            if self._idp_client_id:
                exchange["client_id"] = self._idp_client_id
            if scope:
                exchange["scope"] = scope
            try:
                async with http.post(self._idp_token_endpoint, data=exchange) as resp:
                    raw = await resp.content.read(MAX_BODY)
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

"""OAuth 2.1 for MCP servers behind the one :class:`~duomcp.auth.Auth` path.

Every 401 or 403 of every request reaches :meth:`OAuth.handle_challenge`; concurrent
challenges share one flow. Discovery is in :mod:`._discovery`, registration in
:mod:`._registration`, the grants without a user in :mod:`._grants`, DPoP in
:mod:`._dpop`, tokens and revocation in :mod:`._tokens`, the interactive flow (PKCE) in
:mod:`._codeflow`. No token, code, verifier, assertion, key or secret is ever logged.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..errors import AuthError
from ._base import Auth, AuthChallenge
from ._browser import LoopbackLogin
from ._codeflow import Interaction, authorize_with_code
from ._discovery import Discovery, discover, origin_of
from ._discovery import (  # re-exported: they were defined here
    authorization_server_metadata_urls as authorization_server_metadata_urls,
)
from ._discovery import (
    protected_resource_metadata_urls as protected_resource_metadata_urls,
)
from ._dpop import DPoPKey, DPoPMode
from ._errors import DPoPError, DPoPNonceError, InvalidClientError, InvalidGrantError
from ._grants import Grant, authenticate_client
from ._lock import AnyLoopLock
from ._registration import OAuthClientInfo, forget_client, load_client
from ._session import AuthHTTP
from ._storage import MemoryTokenStorage, TokenStorage
from ._tokenflow import request_tokens
from ._tokens import OAuthTokens, revoke_tokens

__all__ = ["OAuth", "OAuthClientInfo", "OAuthTokens"]

log = logging.getLogger("duomcp.auth")

_MAX_AUTHORIZATIONS = 3  # within _AUTHORIZATION_WINDOW seconds: no endless loops
_AUTHORIZATION_WINDOW = 60.0
_NONCE_REFUSALS = 3  # the same resource-server nonce refused this often: give up


class OAuth(Auth):
    """OAuth 2.1: authorization code with PKCE (S256) for people, or a :class:`Grant`.

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
        storage: where registrations, tokens and the DPoP key are kept (memory by
            default; use :class:`~duomcp.auth.FileTokenStorage` to survive restarts).
        grant: a grant without a user (:class:`~duomcp.auth.JWTBearerGrant`...) instead of
            the authorization code flow; it needs ``client_id``, not ``interaction``.
        dpop: ``"auto"`` (DPoP when the authorization server offers it), ``"require"``
            or ``"off"``; see :data:`~duomcp.auth.DPoPMode`.
    """

    def __init__(
        self,
        *,
        interaction: Interaction | None = None,
        redirect_uri: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        client_metadata_url: str | None = None,
        scopes: str | None = None,
        client_name: str = "duomcp",
        storage: TokenStorage | None = None,
        grant: Grant | None = None,
        dpop: DPoPMode = "auto",
    ) -> None:
        if grant is None and (interaction is None or redirect_uri is None):
            raise ValueError("OAuth needs interaction and redirect_uri, or a grant")
        if grant is not None and not client_id:
            raise ValueError("a grant needs the client_id registered for it")
        if dpop not in ("auto", "require", "off"):
            raise ValueError('dpop: "auto", "require" or "off"')
        self._interaction = interaction
        self._grant = grant
        self._dpop_mode: DPoPMode = dpop
        self._storage: TokenStorage = storage if storage is not None else MemoryTokenStorage()
        self._restored = False
        self._redirect_uri = redirect_uri or ""
        self._preregistered = (
            OAuthClientInfo(
                client_id=client_id,
                client_secret=client_secret,
                token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
            )
            if client_id
            else None
        )
        self._private_key: str | None = None  # private_key_jwt (set by ClientCredentials)
        self._signing_algorithm = "ES256"
        self._client_metadata_url = client_metadata_url
        self._scopes = scopes
        self._client_name = client_name
        self._client: OAuthClientInfo | None = None
        self._tokens: OAuthTokens | None = None
        self._discovery: Discovery | None = None  # what the last discovery found
        self._granted_scopes: set[str] = set()
        self._lock = AnyLoopLock()  # one sign-in or renewal at a time, on any loop
        self._generation = 0
        self._authorized_at: list[float] = []
        self._http = AuthHTTP(keep_open=True)  # one session, closed by aclose()
        self._dpop_key: DPoPKey | None = None
        self._nonces: dict[str, str] = {}  # origin -> the DPoP-Nonce it gave last
        self._nonce_refusals: Counter[str] = Counter()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(client={self._client!r}, authorized={self._tokens is not None})"
        )

    @property
    def tokens(self) -> OAuthTokens | None:
        """The current tokens, if authorized."""
        return self._tokens

    @property
    def dpop_key(self) -> DPoPKey | None:
        """The DPoP key pair, once DPoP is in use."""
        return self._dpop_key

    async def aclose(self) -> None:
        """Close the connection pool to the authorization servers (a later use reopens)."""
        await self._http.aclose()

    async def sign_out(self) -> bool:
        """Revoke the tokens (RFC 7009, where the authorization server offers a
        ``revocation_endpoint``), then forget them; return whether there were any. The
        registration is kept (a later sign-in reuses it)."""
        if self._discovery is None:
            return False  # never challenged: no idea where tokens would be kept
        client = self._client or await self._load_client()
        tokens, self._tokens = self._tokens, None
        self._generation += 1
        if client is None:
            return False
        self._client = client
        key = self._tokens_key()
        stored = await self._storage.load(key)
        if tokens is None and stored and "access_token" in stored:
            tokens = OAuthTokens.from_storage(stored)
        endpoint = self._discovery.revocation_endpoint
        if tokens is not None and endpoint:
            async with self._http.use():
                await revoke_tokens(
                    self._http,
                    endpoint,
                    tokens,
                    lambda f, h: self._authenticate_client(client, f, h),
                )
        await self._storage.delete(key)
        return tokens is not None

    # -- the Auth interface -------------------------------------------------------------

    async def _current(self) -> OAuthTokens | None:
        """The tokens, renewed first when expiring (one renewal per token, at a time)."""
        tokens = self._tokens
        now = time.time()
        if tokens is not None and tokens.expiring(now) and self._renewable(tokens):
            generation = self._generation
            async with self._lock.hold(), self._http.use():
                if self._generation == generation:
                    try:
                        await self._renew()
                    except AuthError as exc:
                        if tokens.expired(time.time()) or self._tokens is None:
                            raise
                        # still valid: used while the authorization server recovers
                        log.warning("renewing the access token early failed: %s", exc)
            tokens = self._tokens
        return tokens

    async def auth_headers(self) -> Mapping[str, str]:
        """The ``Authorization`` header (``Bearer`` or ``DPoP``), renewed when expiring."""
        tokens = await self._current()
        return {} if tokens is None else {"Authorization": tokens.authorization}

    async def request_headers(self, method: str, url: str) -> Mapping[str, str]:
        """The ``Authorization`` header and, for a DPoP-bound token, a fresh proof."""
        tokens = await self._current()
        if tokens is None:
            return {}
        headers = {"Authorization": tokens.authorization}
        if tokens.dpop:
            key = self._dpop_key
            if key is None:
                raise DPoPError("a DPoP-bound token without its key")
            headers["DPoP"] = key.proof(
                method,
                url,
                access_token=tokens.access_token,
                nonce=self._nonces.get(origin_of(url)),
            )
        return headers

    async def handle_challenge(self, challenge: AuthChallenge) -> bool:
        """Run discovery, registration and authorization (or refresh, or step-up)."""
        if challenge.dpop_nonce and self._dpop_key is not None:
            origin = origin_of(challenge.url)
            if challenge.status == 401 and challenge.error == "use_dpop_nonce":
                return self._take_nonce(origin, challenge.dpop_nonce)
            self._nonces[origin] = challenge.dpop_nonce
        generation = self._generation
        async with self._lock.hold(), self._http.use():
            if self._generation != generation:
                return True  # another request's challenge already produced a new token
            if challenge.status == 403 and challenge.error != "insufficient_scope":
                return False
            if challenge.status == 401 and self._tokens is not None and await self._renew():
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

    def _take_nonce(self, origin: str, nonce: str) -> bool:
        """A resource server's ``use_dpop_nonce``: retry with its nonce."""
        if self._nonces.get(origin) == nonce:
            self._nonce_refusals[nonce] += 1
            if self._nonce_refusals[nonce] >= _NONCE_REFUSALS:
                raise DPoPNonceError(f"{origin} keeps refusing the DPoP nonce it supplied")
        self._nonces[origin] = nonce
        return True

    # -- storage ------------------------------------------------------------------------

    def _tokens_key(self) -> str:
        assert self._discovery is not None and self._client is not None
        found = self._discovery
        return f"tokens:{found.issuer}|{found.resource}|{self._client.client_id}"

    async def _save_tokens(self) -> None:
        assert self._tokens is not None
        import attrs

        record: dict[str, Any] = attrs.asdict(self._tokens)
        if self._dpop_key is not None:
            record["dpop_jwk"] = self._dpop_key.private_jwk()
        await self._storage.save(self._tokens_key(), record)

    async def _restore(self, challenge: AuthChallenge) -> bool:
        """Load a stored registration, tokens and DPoP key; ``True`` when usable tokens result."""
        if self._discovery is None:
            await self._discover(challenge)
        if self._client is None:
            self._client = await self._load_client()
        if self._client is None or self._tokens is not None:
            return False
        stored = await self._storage.load(self._tokens_key())
        if not stored or "access_token" not in stored:
            return False
        if isinstance(stored.get("dpop_jwk"), dict):
            self._dpop_key = DPoPKey.from_jwk(stored["dpop_jwk"])
        self._tokens = tokens = OAuthTokens.from_storage(stored)
        if tokens.dpop and self._dpop_key is None:
            self._tokens = None  # bound to a key that was not kept
            return False
        if tokens.scope:
            self._granted_scopes |= set(tokens.scope.split())
        self._generation += 1
        if tokens.refresh_token or tokens.expiring(time.time()):
            # A new process cannot know whether the server still accepts the stored
            # access token; one refresh settles it without bothering the user.
            return await self._renew()
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

    async def _discover(self, challenge: AuthChallenge) -> Discovery:
        found = await discover(self._http, challenge.url, challenge.resource_metadata)
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
        if self._grant is not None:
            if self._discovery is None:
                await self._discover(challenge)
            await self._run_grant(self._scope(challenge))
            return
        try:
            await authorize_with_code(self, challenge)
        except InvalidClientError as exc:
            if self._preregistered is not None:
                raise InvalidClientError(
                    "the authorization server rejected the pre-registered client (invalid_client)",
                    error="invalid_client",
                ) from exc
            log.info("the registration was rejected (invalid_client); registering again")
            assert self._discovery is not None
            self._client = None
            await forget_client(self._storage, self._discovery.issuer)
            await authorize_with_code(self, challenge)

    async def _run_grant(self, scope: str | None) -> None:
        assert self._grant is not None and self._discovery is not None
        self._client = self._preregistered
        assert self._client is not None
        form = await self._grant.token_form(self._http, self._discovery, self._client, scope)
        await self._token_request(form, requested_scope=scope)

    def _renewable(self, tokens: OAuthTokens) -> bool:
        return bool(tokens.refresh_token) or self._grant is not None

    async def _renew(self) -> bool:
        """Refresh the access token (or run the grant again); ``False`` when the grant is
        gone and a new authorization is needed."""
        tokens = self._tokens
        if tokens is None or self._discovery is None:
            return False
        if not tokens.refresh_token:
            if self._grant is None:
                return False
            await self._run_grant(tokens.scope)
            return True
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "resource": self._discovery.resource,
        }
        try:
            await self._token_request(form, requested_scope=tokens.scope)
        except (InvalidGrantError, InvalidClientError) as exc:
            log.info("refresh refused (%s); authorizing again", exc.error)
            self._tokens = None
            return False
        # Any other failure (network, 5xx) is transient: the tokens are kept and the
        # error reaches the caller; a later call refreshes again.
        return True

    def _authenticate_client(
        self, client: OAuthClientInfo, form: dict[str, str], headers: dict[str, str]
    ) -> None:
        """Add the client's authentication to a token request."""
        found = self._discovery
        authenticate_client(
            client,
            form,
            headers,
            private_key_pem=self._private_key,
            signing_algorithm=self._signing_algorithm,
            audience=(found.metadata_issuer or found.token_endpoint) if found else None,
        )

    async def _token_request(self, form: dict[str, str], *, requested_scope: str | None) -> None:
        await request_tokens(self, form, requested_scope=requested_scope)

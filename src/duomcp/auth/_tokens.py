"""Tokens and the endpoints that issue and revoke them.

:class:`OAuthTokens` (with the refresh timing), one token-endpoint round trip
(:func:`post_form`) and the mapping of its refusals to typed errors, and RFC 7009
revocation. Nothing secret is logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .._lazy import LazyModule
from ..errors import AuthError
from ._discovery import MAX_BODY
from ._errors import (
    AssertionRejectedError,
    InvalidClientError,
    InvalidGrantError,
    TokenEndpointError,
)
from ._session import AuthHTTP

__all__ = [
    "REFRESH_MARGIN",
    "OAuthTokens",
    "TokenReply",
    "post_form",
    "raise_refusal",
    "revoke",
    "revoke_tokens",
]

log = logging.getLogger("duomcp.auth")

REFRESH_MARGIN = 30.0
"""At most this many seconds before expiry a token is refreshed (less for short ones)."""
REFRESH_FRACTION = 0.25
"""...and at most this fraction of its lifetime: a 5-second token is refreshed 1.25 s
before it expires, so it is used for most of its life and refreshed once."""

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")


@attrs.frozen(kw_only=True)
class OAuthTokens:
    """Tokens from the authorization server; ``expires_at`` is absolute (epoch seconds)."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None
    token_type: str = "Bearer"
    """``"Bearer"``, or ``"DPoP"`` for a token bound to the client's DPoP key."""
    lifetime: float | None = None
    """The ``expires_in`` the token came with (sets the refresh margin)."""

    @property
    def dpop(self) -> bool:
        """Whether the token is DPoP-bound (sent as ``Authorization: DPoP <token>``)."""
        return self.token_type.lower() == "dpop"

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"{'DPoP' if self.dpop else 'Bearer'} {self.access_token}"

    def refresh_margin(self) -> float:
        """Seconds before expiry at which the token is refreshed: min(30 s, 1/4 lifetime)."""
        if self.lifetime is not None and self.lifetime > 0:
            return min(REFRESH_MARGIN, self.lifetime * REFRESH_FRACTION)
        return REFRESH_MARGIN

    def expiring(self, now: float) -> bool:
        """Whether the access token expires within the refresh margin."""
        return self.expires_at is not None and self.expires_at - self.refresh_margin() <= now

    def expired(self, now: float) -> bool:
        """Whether the access token has expired."""
        return self.expires_at is not None and self.expires_at <= now

    @classmethod
    def from_storage(cls, stored: dict[str, Any]) -> OAuthTokens:
        """Tokens as :func:`attrs.asdict` stored them (older records lack the new fields)."""
        return cls(
            access_token=str(stored["access_token"]),
            refresh_token=stored.get("refresh_token"),
            expires_at=stored.get("expires_at"),
            scope=stored.get("scope"),
            token_type=str(stored.get("token_type") or "Bearer"),
            lifetime=stored.get("lifetime"),
        )


@attrs.frozen(kw_only=True)
class TokenReply:
    """One answer of a token endpoint."""

    status: int
    data: dict[str, Any]
    dpop_nonce: str | None

    @property
    def error(self) -> str | None:
        """The OAuth error code, when the request was refused."""
        if self.status == 200 and "access_token" in self.data:
            return None
        return str(self.data.get("error") or "unknown_error")


async def post_form(
    http: AuthHTTP, endpoint: str, form: dict[str, str], headers: dict[str, str], *, what: str
) -> TokenReply:
    """POST a form to a token endpoint and read its JSON answer."""
    try:
        async with http.post(endpoint, data=form, headers=headers, allow_redirects=False) as resp:
            raw = await resp.content.read(MAX_BODY)
            status = resp.status
            nonce = resp.headers.get("DPoP-Nonce")
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        raise AuthError(f"{what} to {endpoint} failed: {exc or type(exc).__name__}") from exc
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not JSON, or nested too deeply to parse
        raise AuthError(f"{endpoint} answered {status} without JSON") from exc
    if not isinstance(data, dict):
        raise AuthError(f"{endpoint} answered {status} with a non-object")
    return TokenReply(status=status, data=data, dpop_nonce=nonce)


def raise_refusal(endpoint: str, reply: TokenReply, *, assertion: bool = False) -> None:
    """Raise the typed error of a refused token request (``assertion``: a JWT bearer grant)."""
    error = reply.error
    if error is None:
        return
    if error == "invalid_client":
        raise InvalidClientError(f"token endpoint {endpoint} rejected the client", error=error)
    if assertion and error in ("invalid_grant", "invalid_scope", "unauthorized_client"):
        raise AssertionRejectedError(
            f"token endpoint {endpoint} rejected the assertion grant ({error})", error=error
        )
    if error == "invalid_grant":
        raise InvalidGrantError(
            f"token endpoint {endpoint} refused the grant (invalid_grant)", error=error
        )
    raise TokenEndpointError(
        f"token endpoint {endpoint} refused ({reply.status}): {error}", error=error
    )


async def revoke(
    http: AuthHTTP,
    endpoint: str,
    token: str,
    hint: str,
    *,
    client_auth: dict[str, str],
    headers: dict[str, str],
) -> bool:
    """RFC 7009: ask the authorization server to revoke ``token``; ``True`` when it did.

    A failure is logged (without the token) and not raised: signing out goes on."""
    form = {"token": token, "token_type_hint": hint, **client_auth}
    try:
        async with http.post(endpoint, data=form, headers=headers, allow_redirects=False) as resp:
            status = resp.status
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        log.warning("revoking the %s at %s failed: %s", hint, endpoint, type(exc).__name__)
        return False
    if status != 200:
        log.warning("revoking the %s at %s was refused (%d)", hint, endpoint, status)
        return False
    return True


async def revoke_tokens(
    http: AuthHTTP,
    endpoint: str,
    tokens: OAuthTokens,
    authenticate: Callable[[dict[str, str], dict[str, str]], None],
) -> None:
    """Revoke the refresh token (which ends the grant), then the access token."""
    for token, hint in (
        (tokens.refresh_token, "refresh_token"),
        (tokens.access_token, "access_token"),
    ):
        if token:
            form: dict[str, str] = {}
            headers = {"Accept": "application/json"}
            authenticate(form, headers)
            await revoke(http, endpoint, token, hint, client_auth=form, headers=headers)

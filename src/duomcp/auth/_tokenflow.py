"""Token requests: one round trip to the token endpoint, with DPoP where it is used.

Each attempt gets fresh client authentication and a fresh DPoP proof; a ``use_dpop_nonce``
answer is retried once with the server's nonce (RFC 9449 §8). The answer becomes the
object's tokens, stored with the DPoP key.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import AuthError
from ._discovery import origin_of
from ._dpop import DPOP_ALGORITHM, DPoPKey
from ._errors import DPoPError, DPoPNonceError
from ._tokens import OAuthTokens, post_form, raise_refusal

if TYPE_CHECKING:
    from ._oauth import OAuth

__all__ = ["request_tokens", "use_dpop"]


def use_dpop(oauth: OAuth) -> bool:
    """Whether token requests carry DPoP proofs (the key is made on first use)."""
    assert oauth._discovery is not None
    if oauth._dpop_mode == "off":
        return False
    offered = DPOP_ALGORITHM in oauth._discovery.dpop_signing_alg_values_supported
    if not offered:
        if oauth._dpop_mode == "require":
            raise DPoPError(
                f"{oauth._discovery.issuer} does not offer DPoP with {DPOP_ALGORITHM} "
                "(dpop_signing_alg_values_supported) and dpop='require'"
            )
        return False
    if oauth._dpop_key is None:
        oauth._dpop_key = DPoPKey.generate()
    return True


async def request_tokens(
    oauth: OAuth, form: dict[str, str], *, requested_scope: str | None
) -> None:
    assert oauth._discovery is not None and oauth._client is not None
    endpoint = oauth._discovery.token_endpoint
    dpop = use_dpop(oauth)
    origin = origin_of(endpoint)
    for attempt in range(2):
        body = dict(form)
        headers = {"Accept": "application/json"}
        oauth._authenticate_client(oauth._client, body, headers)  # fresh assertion each time
        if dpop:
            assert oauth._dpop_key is not None
            headers["DPoP"] = oauth._dpop_key.proof(
                "POST", endpoint, nonce=oauth._nonces.get(origin)
            )
        reply = await post_form(oauth._http, endpoint, body, headers, what="token request")
        if reply.dpop_nonce:
            oauth._nonces[origin] = reply.dpop_nonce
        if not (dpop and reply.error == "use_dpop_nonce"):
            break
        if attempt == 1 or not reply.dpop_nonce:
            raise DPoPNonceError(f"token endpoint {endpoint} refused its own DPoP nonce")
    grant = (
        oauth._grant is not None
        and oauth._grant.assertion
        and form.get("grant_type") != "refresh_token"
    )
    raise_refusal(endpoint, reply, assertion=grant)
    data = reply.data
    token_type = str(data.get("token_type", "")).lower()
    if token_type not in ("bearer", "dpop") or (token_type == "dpop" and not dpop):
        raise AuthError(f"token endpoint {endpoint} issued an unsupported token type")
    if dpop and token_type == "bearer" and oauth._dpop_mode == "require":
        raise DPoPError(f"token endpoint {endpoint} issued a bearer token; dpop='require'")
    expires_in = data.get("expires_in")
    lifetime = float(expires_in) if expires_in else None
    old = oauth._tokens
    scope = data.get("scope") or requested_scope
    oauth._tokens = OAuthTokens(
        access_token=str(data["access_token"]),
        refresh_token=data.get("refresh_token") or (old.refresh_token if old else None),
        expires_at=time.time() + lifetime if lifetime else None,
        scope=scope,
        token_type="DPoP" if token_type == "dpop" else "Bearer",
        lifetime=lifetime,
    )
    if scope:
        oauth._granted_scopes |= set(scope.split())
    oauth._generation += 1
    await oauth._save_tokens()

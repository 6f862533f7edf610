"""Grants without a user, as strategies an :class:`~duomcp.auth.OAuth` object runs.

A :class:`Grant` gives the form of a token request for the discovered authorization
server: client credentials (OAuth 2.1), a JWT bearer assertion (RFC 7523, e.g. workload
identity federation, SEP-1933), or an identity assertion obtained from the enterprise
IdP by token exchange (RFC 8693, then RFC 7523: SEP-990). How the client authenticates
itself (secret, ``private_key_jwt``, none) is separate: :func:`authenticate_client`.
"""

from __future__ import annotations

import base64
import inspect
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, Union
from urllib.parse import quote

from .._executors import STORAGE
from ..errors import AuthError
from ._discovery import Discovery, require_secure
from ._errors import AssertionRejectedError
from ._registration import OAuthClientInfo
from ._session import AuthHTTP
from ._tokens import post_form

__all__ = [
    "JWT_BEARER_GRANT",
    "AssertionSource",
    "ClientCredentialsGrant",
    "Grant",
    "IdentityAssertionGrant",
    "JWTBearerGrant",
    "authenticate_client",
    "read_assertion",
]

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_JWT_CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"

AssertionSource = Union[str, "os.PathLike[str]", Callable[[], "str | Awaitable[str]"]]
"""Where an assertion comes from: a function (plain or async) called for each grant, or
a file path (a ``Path``; read afresh for each grant, as platforms rotate such files). A
plain ``str`` is the assertion itself."""


async def read_assertion(source: AssertionSource, what: str) -> str:
    """The current assertion from ``source`` (never logged)."""
    if isinstance(source, os.PathLike):
        path = Path(source)
        try:
            text = await STORAGE.run(path.read_text, "utf-8")
        except OSError as exc:
            raise AuthError(f"cannot read the {what} from {path}: {exc.strerror}") from None
    elif callable(source):
        value = source()
        text = await value if inspect.isawaitable(value) else value
    else:
        text = source
    text = str(text).strip()
    if not text:
        raise AuthError(f"the {what} is empty")
    return text


class Grant(Protocol):
    """A way to obtain a token without a user; runs again whenever a token is needed."""

    assertion: bool
    """Whether its refusal is an :class:`~duomcp.auth.AssertionRejectedError`."""

    async def token_form(
        self, http: AuthHTTP, found: Discovery, client: OAuthClientInfo, scope: str | None
    ) -> dict[str, str]:
        """The token request's form (without client authentication)."""
        ...


class ClientCredentialsGrant:
    """The client credentials grant (OAuth 2.1 §4.2): the client acts for itself."""

    assertion = False

    async def token_form(
        self, http: AuthHTTP, found: Discovery, client: OAuthClientInfo, scope: str | None
    ) -> dict[str, str]:
        """``grant_type=client_credentials`` with the resource and scope."""
        form = {"grant_type": "client_credentials", "resource": found.resource}
        if scope:
            form["scope"] = scope
        return form


class JWTBearerGrant:
    """The JWT bearer grant (RFC 7523 §2.1), e.g. a workload identity token (SEP-1933).

    Args:
        assertion: the JWT, a function returning it, or a path to the file holding it.
    """

    assertion = True

    def __init__(self, assertion: AssertionSource) -> None:
        self._source = assertion

    def __repr__(self) -> str:
        source = self._source
        where = f"file {os.fspath(source)!r}" if isinstance(source, os.PathLike) else "<redacted>"
        return f"JWTBearerGrant({where})"

    async def token_form(
        self, http: AuthHTTP, found: Discovery, client: OAuthClientInfo, scope: str | None
    ) -> dict[str, str]:
        """``grant_type=jwt-bearer`` with the current assertion, resource and scope."""
        form = {
            "grant_type": JWT_BEARER_GRANT,
            "assertion": await read_assertion(self._source, "JWT bearer assertion"),
            "resource": found.resource,
        }
        if scope:
            form["scope"] = scope
        return form


class IdentityAssertionGrant:
    """Enterprise-managed authorization (SEP-990): the user's ID token is exchanged at the
    IdP for an identity assertion (ID-JAG, RFC 8693), presented as a JWT bearer grant."""

    assertion = True

    def __init__(
        self,
        *,
        id_token: AssertionSource,
        idp_token_endpoint: str,
        idp_client_id: str | None = None,
        idp_client_secret: str | None = None,
    ) -> None:
        require_secure(idp_token_endpoint, "IdP token endpoint")
        self._id_token = id_token
        self.idp_token_endpoint = idp_token_endpoint
        self._idp_client_id = idp_client_id
        self._idp_client_secret = idp_client_secret

    def __repr__(self) -> str:
        return f"IdentityAssertionGrant(idp={self.idp_token_endpoint!r})"

    async def token_form(
        self, http: AuthHTTP, found: Discovery, client: OAuthClientInfo, scope: str | None
    ) -> dict[str, str]:
        """Exchange the ID token at the IdP; the ID-JAG is the assertion of the grant."""
        exchange = {
            "grant_type": _TOKEN_EXCHANGE,
            "subject_token": await read_assertion(self._id_token, "ID token"),
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "audience": found.issuer_identifier,
            "resource": found.resource,
        }
        if scope:
            exchange["scope"] = scope
        headers = {"Accept": "application/json"}
        if self._idp_client_id:
            idp_client = OAuthClientInfo(
                client_id=self._idp_client_id,
                client_secret=self._idp_client_secret,
                token_endpoint_auth_method="client_secret_post"
                if self._idp_client_secret
                else "none",
            )
            authenticate_client(idp_client, exchange, headers)
        endpoint = self.idp_token_endpoint
        reply = await post_form(http, endpoint, exchange, headers, what="token exchange")
        if reply.error is not None:
            raise AssertionRejectedError(
                f"the IdP at {endpoint} refused the token exchange ({reply.status}): {reply.error}",
                error=reply.error,
            )
        return {"grant_type": JWT_BEARER_GRANT, "assertion": str(reply.data["access_token"])}


def authenticate_client(
    client: OAuthClientInfo,
    form: dict[str, str],
    headers: dict[str, str],
    *,
    private_key_pem: str | None = None,
    signing_algorithm: str = "ES256",
    audience: str | None = None,
) -> None:
    """Add the client's authentication to a token (or revocation) request."""
    method = client.token_endpoint_auth_method
    if method == "private_key_jwt" and private_key_pem is not None:
        form["client_id"] = client.client_id
        form["client_assertion_type"] = _JWT_CLIENT_ASSERTION
        form["client_assertion"] = _client_assertion(
            client.client_id, private_key_pem, signing_algorithm, audience or ""
        )
        return
    if method == "client_secret_basic" and client.client_secret:
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return
    form["client_id"] = client.client_id
    if method == "client_secret_post" and client.client_secret:
        form["client_secret"] = client.client_secret


def _client_assertion(client_id: str, pem: str, algorithm: str, audience: str) -> str:
    """A signed RFC 7523 client assertion, fresh (new ``jti``) for each request."""
    try:
        import jwt
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise AuthError("private_key_jwt needs PyJWT: pip install 'duomcp[jwt]'") from exc
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(16),
    }
    try:
        return str(jwt.encode(claims, pem, algorithm=algorithm))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise AuthError(f"cannot sign the client assertion: {type(exc).__name__}") from None

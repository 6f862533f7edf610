"""Ready-made :class:`~duomcp.auth.OAuth` objects for clients without a user.

Each is an ``OAuth`` configured with a grant strategy (:mod:`._grants`) and a client
authentication; ``OAuth(grant=..., client_id=...)`` composes the same parts directly.
"""

from __future__ import annotations

from ._dpop import DPoPMode
from ._grants import (
    AssertionSource,
    ClientCredentialsGrant,
    IdentityAssertionGrant,
    JWTBearerGrant,
)
from ._oauth import OAuth
from ._registration import OAuthClientInfo

__all__ = ["ClientCredentials", "CrossAppAccess", "WorkloadIdentity"]


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
        dpop: DPoPMode = "auto",
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
        super().__init__(
            grant=ClientCredentialsGrant(),
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            dpop=dpop,
        )
        self._private_key = private_key_pem
        self._signing_algorithm = signing_algorithm
        self._preregistered = OAuthClientInfo(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=method,
        )


class WorkloadIdentity(OAuth):
    """Workload identity federation (SEP-1933): a JWT bearer grant (RFC 7523) whose
    assertion is the workload's identity token from its platform.

    Args:
        client_id: this client's id at the MCP server's authorization server.
        assertion: the token, a function returning it (plain or async), or the path
            (``pathlib.Path``) of the file the platform keeps it in; read for each grant,
            so a rotated file is picked up.
        client_secret: a secret, when the authorization server wants one as well.
        scopes: scopes to ask for when the server names none.
        dpop: see :class:`OAuth`.
    """

    def __init__(
        self,
        *,
        client_id: str,
        assertion: AssertionSource,
        client_secret: str | None = None,
        scopes: str | None = None,
        dpop: DPoPMode = "auto",
    ) -> None:
        super().__init__(
            grant=JWTBearerGrant(assertion),
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            dpop=dpop,
        )


class CrossAppAccess(OAuth):
    """Enterprise-managed authorization (SEP-990, "cross-app access"): no login prompt.

    The user's ID token from the enterprise identity provider (IdP) is exchanged at the
    IdP for an identity assertion grant (ID-JAG, RFC 8693 token exchange) for this MCP
    server's authorization server, which then issues the access token for it (RFC 7523
    JWT bearer grant), authenticating this pre-registered client with its secret.

    Args:
        client_id: this client's id at the MCP server's authorization server.
        client_secret: its secret there.
        id_token: the user's ID token from the IdP (or a function or path giving it).
        idp_token_endpoint: the IdP's token endpoint.
        idp_client_id: this client's id at the IdP, when the IdP wants it.
        scopes: scopes to ask for when the server names none.
        dpop: see :class:`OAuth`.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        id_token: AssertionSource,
        idp_token_endpoint: str,
        idp_client_id: str | None = None,
        scopes: str | None = None,
        dpop: DPoPMode = "auto",
    ) -> None:
        grant = IdentityAssertionGrant(
            id_token=id_token, idp_token_endpoint=idp_token_endpoint, idp_client_id=idp_client_id
        )
        super().__init__(
            grant=grant,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            dpop=dpop,
        )
        self._idp_token_endpoint = idp_token_endpoint

    def __repr__(self) -> str:
        return f"CrossAppAccess(idp={self._idp_token_endpoint!r})"

"""Authentication: the one path every credential and every 401/403 goes through.

An :class:`Auth` object gives the headers of every HTTP request the client makes to the
MCP server (POST, GET stream, reconnect, resumption, DELETE) and receives every 401 and
403 any of them gets. :class:`BearerToken` is a fixed token; OAuth plugs in here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import Auth, AuthChallenge, BearerToken, RequestKind, parse_www_authenticate
from ._errors import (
    AssertionRejectedError,
    DPoPError,
    DPoPNonceError,
    InvalidClientError,
    InvalidGrantError,
    IssuerMismatchError,
    ResourceMismatchError,
    TokenEndpointError,
)

if TYPE_CHECKING:
    from ._browser import LoopbackLogin
    from ._dpop import DPoPKey, DPoPMode
    from ._grants import (
        AssertionSource,
        ClientCredentialsGrant,
        Grant,
        IdentityAssertionGrant,
        JWTBearerGrant,
    )
    from ._machine import ClientCredentials, CrossAppAccess, WorkloadIdentity
    from ._oauth import OAuth, OAuthClientInfo, OAuthTokens
    from ._storage import FileTokenStorage, MemoryTokenStorage, TokenStorage

__all__ = [
    "AssertionRejectedError",
    "AssertionSource",
    "Auth",
    "AuthChallenge",
    "BearerToken",
    "ClientCredentials",
    "ClientCredentialsGrant",
    "CrossAppAccess",
    "DPoPError",
    "DPoPKey",
    "DPoPMode",
    "DPoPNonceError",
    "FileTokenStorage",
    "Grant",
    "IdentityAssertionGrant",
    "InvalidClientError",
    "InvalidGrantError",
    "IssuerMismatchError",
    "JWTBearerGrant",
    "LoopbackLogin",
    "MemoryTokenStorage",
    "OAuth",
    "OAuthClientInfo",
    "OAuthTokens",
    "RequestKind",
    "ResourceMismatchError",
    "TokenEndpointError",
    "TokenStorage",
    "WorkloadIdentity",
    "parse_www_authenticate",
]

# OAuth and the other credential flows are imported on first use: a client with no
# credentials or a bearer token (the common case) does not pay for them (~25 ms:
# webbrowser, secrets, the OAuth models) at ``import duomcp``.
_LAZY = {
    "LoopbackLogin": "_browser",
    "DPoPKey": "_dpop",
    "DPoPMode": "_dpop",
    "AssertionSource": "_grants",
    "ClientCredentialsGrant": "_grants",
    "Grant": "_grants",
    "IdentityAssertionGrant": "_grants",
    "JWTBearerGrant": "_grants",
    "ClientCredentials": "_machine",
    "CrossAppAccess": "_machine",
    "WorkloadIdentity": "_machine",
    "OAuth": "_oauth",
    "OAuthClientInfo": "_oauth",
    "OAuthTokens": "_oauth",
    "FileTokenStorage": "_storage",
    "MemoryTokenStorage": "_storage",
    "TokenStorage": "_storage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

"""Authentication: the one path every credential and every 401/403 goes through.

An :class:`Auth` object gives the headers of every HTTP request the client makes to the
MCP server (POST, GET stream, reconnect, resumption, DELETE) and receives every 401 and
403 any of them gets. :class:`BearerToken` is a fixed token; OAuth plugs in here too.
"""

from __future__ import annotations

from ._base import Auth, AuthChallenge, BearerToken, RequestKind, parse_www_authenticate
from ._browser import LoopbackLogin
from ._dpop import DPoPKey, DPoPMode
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

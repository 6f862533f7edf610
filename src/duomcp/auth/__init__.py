"""Authentication: the one path every credential and every 401/403 goes through.

An :class:`Auth` object gives the headers of every HTTP request the client makes to the
MCP server (POST, GET stream, reconnect, resumption, DELETE) and receives every 401 and
403 any of them gets. :class:`BearerToken` is a fixed token; OAuth plugs in here too.
"""

from __future__ import annotations

from ._base import Auth, AuthChallenge, BearerToken, RequestKind, parse_www_authenticate
from ._browser import LoopbackLogin
from ._oauth import ClientCredentials, CrossAppAccess, OAuth, OAuthClientInfo, OAuthTokens
from ._storage import FileTokenStorage, MemoryTokenStorage, TokenStorage

__all__ = [
    "Auth",
    "AuthChallenge",
    "BearerToken",
    "ClientCredentials",
    "CrossAppAccess",
    "FileTokenStorage",
    "LoopbackLogin",
    "MemoryTokenStorage",
    "OAuth",
    "OAuthClientInfo",
    "OAuthTokens",
    "RequestKind",
    "TokenStorage",
    "parse_www_authenticate",
]

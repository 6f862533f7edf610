"""Authentication: the one path every credential and every 401/403 goes through.

An :class:`Auth` object gives the headers of every HTTP request the client makes to the
MCP server (POST, GET stream, reconnect, resumption, DELETE) and receives every 401 and
403 any of them gets. :class:`BearerToken` is a fixed token; OAuth plugs in here too.
"""

from __future__ import annotations

from ._base import Auth, AuthChallenge, BearerToken, RequestKind, parse_www_authenticate
from ._oauth import ClientCredentials, OAuth, OAuthClientInfo, OAuthTokens

__all__ = [
    "Auth",
    "AuthChallenge",
    "BearerToken",
    "ClientCredentials",
    "OAuth",
    "OAuthClientInfo",
    "OAuthTokens",
    "RequestKind",
    "parse_www_authenticate",
]

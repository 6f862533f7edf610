"""The typed refusals of the auth path: each an :class:`~duomcp.errors.AuthError`.

Messages name the server and the reason, never a token, secret, assertion or key.
"""

from __future__ import annotations

from ..errors import AuthError

__all__ = [
    "AssertionRejectedError",
    "DPoPError",
    "DPoPNonceError",
    "InvalidClientError",
    "InvalidGrantError",
    "IssuerMismatchError",
    "ResourceMismatchError",
    "TokenEndpointError",
]


class TokenEndpointError(AuthError):
    """The token endpoint refused a request; ``error`` is its OAuth error code."""

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class InvalidClientError(TokenEndpointError):
    """The authorization server does not know (or no longer accepts) the client."""


class InvalidGrantError(TokenEndpointError):
    """The authorization server no longer honours the grant (e.g. a revoked refresh token)."""


class AssertionRejectedError(TokenEndpointError):
    """The authorization server rejected a JWT bearer assertion (RFC 7523) or the identity
    provider refused the token exchange (RFC 8693); the grant is not retried."""


class IssuerMismatchError(AuthError):
    """An authorization server (or an authorization response) names another issuer."""


class ResourceMismatchError(AuthError):
    """The protected resource metadata names a resource that is not this MCP server."""


class DPoPError(AuthError):
    """DPoP (RFC 9449) cannot be used as configured (e.g. required but not offered)."""


class DPoPNonceError(DPoPError):
    """A server refused the DPoP nonce it had just supplied: it was asked for twice."""

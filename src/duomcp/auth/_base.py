"""The Auth interface, the challenge it receives, and a fixed bearer token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import attrs

__all__ = ["Auth", "AuthChallenge", "BearerToken", "RequestKind", "parse_www_authenticate"]

RequestKind = Literal["post", "get", "resume", "delete"]
"""Which kind of HTTP request met the challenge: a message POST, the GET stream, a
resumption GET with ``Last-Event-ID``, or the DELETE that ends a session."""

_AUTH_PARAM = re.compile(r'([A-Za-z0-9_\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_www_authenticate(header: str | None) -> tuple[str | None, dict[str, str]]:
    """Split a ``WWW-Authenticate`` value into its scheme and auth-params.

    Only the first challenge is read; parameter names are lower-cased, quoted values
    unescaped. ``Bearer error="invalid_token", scope="a b"`` gives
    ``("bearer", {"error": "invalid_token", "scope": "a b"})``.
    """
    if not header:
        return None, {}
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(rest):
        name, quoted, token = match.groups()
        key = name.lower()
        if key in params:
            break  # a second challenge's parameters start here
        params[key] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
    return scheme.lower() or None, params


@attrs.frozen(kw_only=True)
class AuthChallenge:
    """A 401 or 403 reply to one of the client's HTTP requests, as the auth path sees it."""

    status: int
    """401 (no or bad credentials) or 403 (credentials lack a permission)."""
    url: str
    """The URL of the request that was refused."""
    request_kind: RequestKind
    """Which kind of request was refused."""
    www_authenticate: str | None
    """The raw ``WWW-Authenticate`` header, if the server sent one."""
    scheme: str | None = None
    """The challenge's scheme, lower-cased (``"bearer"``)."""
    params: Mapping[str, str] = attrs.field(factory=dict)
    """The challenge's auth-params: ``error``, ``scope``, ``resource_metadata``, ..."""
    dpop_nonce: str | None = None
    """The ``DPoP-Nonce`` header of the reply (RFC 9449), if the server sent one."""

    @classmethod
    def from_response(
        cls,
        *,
        status: int,
        url: str,
        request_kind: RequestKind,
        www_authenticate: str | None,
        dpop_nonce: str | None = None,
    ) -> AuthChallenge:
        """Build a challenge from the parts of an HTTP reply."""
        scheme, params = parse_www_authenticate(www_authenticate)
        return cls(
            status=status,
            url=url,
            request_kind=request_kind,
            www_authenticate=www_authenticate,
            scheme=scheme,
            params=params,
            dpop_nonce=dpop_nonce,
        )

    @property
    def error(self) -> str | None:
        """The challenge's ``error`` parameter (``invalid_token``, ``insufficient_scope``...)."""
        return self.params.get("error")

    @property
    def scope(self) -> str | None:
        """The scopes the server asks for, space-separated, if it named any."""
        return self.params.get("scope")

    @property
    def resource_metadata(self) -> str | None:
        """The RFC 9728 protected resource metadata URL, if the server gave one."""
        return self.params.get("resource_metadata")


class Auth:
    """Credentials for an MCP server: the headers of every request and the 401/403 path.

    Subclass it to plug in a credential. The client calls :meth:`auth_headers` before
    every HTTP request it makes to the server, of every kind, and :meth:`handle_challenge`
    for every 401 or 403 reply; when that returns ``True`` the request is sent once more
    with fresh headers. The base class sends nothing and never retries.
    """

    async def auth_headers(self) -> Mapping[str, str]:
        """Return the headers that authenticate the next request (e.g. ``Authorization``)."""
        return {}

    async def request_headers(self, method: str, url: str) -> Mapping[str, str]:
        """The headers that authenticate one HTTP request to ``url`` with ``method``.

        This is what the client calls for every request; the default is
        :meth:`auth_headers`. Override it for credentials bound to each request (a DPoP
        proof, RFC 9449, names the method and URL it is for).
        """
        return await self.auth_headers()

    async def handle_challenge(self, challenge: AuthChallenge) -> bool:
        """React to a 401 or 403; return ``True`` when the request should be retried once.

        Raise an :class:`~duomcp.errors.AuthError` to fail with a specific reason; return
        ``False`` to let the client raise :class:`~duomcp.errors.AuthorizationRequiredError`.
        """
        return False

    async def aclose(self) -> None:
        """Release what the credential holds open (an OAuth object's connection pool to the
        authorization servers). Idempotent; the object stays usable (a later request
        opens again). The base class holds nothing."""


class BearerToken(Auth):
    """A fixed bearer token sent as ``Authorization: Bearer <token>`` on every request.

    A 401 or 403 is not retried: a fixed token cannot be refreshed.
    """

    def __init__(self, token: str) -> None:
        if not token or any(ch in token for ch in "\r\n"):
            raise ValueError("a bearer token must be a non-empty single line")
        self._headers = {"Authorization": f"Bearer {token}"}

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"

    async def auth_headers(self) -> Mapping[str, str]:
        """Return the ``Authorization`` header."""
        return self._headers

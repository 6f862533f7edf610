"""duomcp: a Model Context Protocol client SDK.

``AsyncClient`` is the asyncio flavour; ``Client`` is its blocking twin, generated from it,
with the same methods, which also works inside a running event loop (Jupyter). Models
live in :mod:`duomcp.types`, errors in :mod:`duomcp.errors`, credentials in
:mod:`duomcp.auth`, and a reference server for tests and demos in :mod:`duomcp.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._async.client import AsyncClient
from ._cache import ResultCache
from .auth import Auth, AuthChallenge, BearerToken
from .engine import (
    LATEST_PROTOCOL_VERSION,
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    SUPPORTED_PROTOCOL_VERSIONS,
    EraMemory,
    forget_eras,
)
from .errors import (
    AuthError,
    AuthorizationRequiredError,
    CapabilityNotSupportedError,
    ConnectionClosedError,
    CredentialInUseError,
    HTTPStatusError,
    InputRequiredLimitError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidResponseError,
    JSONRPCError,
    MCPError,
    OutcomeUnknownError,
    ProtocolError,
    ReplyLostError,
    RequestTimeoutError,
    SessionExpiredError,
    StructuredContentError,
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
    TransportError,
    UnsupportedProtocolVersionError,
)
from .tasks import ToolTask
from .transports._http import HTTPOptions

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LEGACY_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "AsyncClient",
    "Auth",
    "AuthChallenge",
    "AuthError",
    "AuthorizationRequiredError",
    "BearerToken",
    "CapabilityNotSupportedError",
    "Client",
    "ConnectionClosedError",
    "CredentialInUseError",
    "EraMemory",
    "HTTPOptions",
    "HTTPStatusError",
    "InputRequiredLimitError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidResponseError",
    "JSONRPCError",
    "MCPError",
    "OutcomeUnknownError",
    "ProtocolError",
    "ReplyLostError",
    "RequestTimeoutError",
    "ResultCache",
    "SessionExpiredError",
    "StdioServer",
    "StructuredContentError",
    "TaskCancelledError",
    "TaskFailedError",
    "TaskNotFoundError",
    "ToolTask",
    "TransportError",
    "UnsupportedProtocolVersionError",
    "__version__",
    "forget_eras",
]


if TYPE_CHECKING:
    from ._sync.client import Client
    from .transports.stdio import StdioServer

    __version__: str


def __getattr__(name: str) -> Any:
    # StdioServer is imported on first use: its module (and ``subprocess``) cost ~12 ms;
    # so is Client, with the blocking engine and its portal, which asyncio code never uses.
    if name == "__version__":  # from the package metadata, read on first use
        from ._version import version

        return version()
    if name == "Client":
        from ._sync.client import Client

        return Client
    if name == "StdioServer":
        from .transports.stdio import StdioServer

        return StdioServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

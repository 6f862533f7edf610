"""The async protocol engine, written once and shared by both client flavours.

See ``docs/architecture.md`` for its parts and how they fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._engine import Engine
from ._responder import Handlers
from ._versions import (
    LATEST_PROTOCOL_VERSION,
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    SUPPORTED_PROTOCOL_VERSIONS,
    EraMemory,
    forget_eras,
)

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LEGACY_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "BlockingEngine",
    "Engine",
    "EraMemory",
    "Handlers",
    "forget_eras",
]

if TYPE_CHECKING:
    from ._blocking import BlockingEngine


def __getattr__(name: str) -> Any:
    # The blocking engine (and its portal, the shared event loop) is imported with the
    # blocking client, on first use: an asyncio program never pays for it.
    if name == "BlockingEngine":
        from ._blocking import BlockingEngine

        return BlockingEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

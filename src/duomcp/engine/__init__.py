"""The async protocol engine, written once and shared by both client flavours.

See ``docs/architecture.md`` for its parts and how they fit.
"""

from __future__ import annotations

from ._blocking import BlockingEngine
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

"""The async protocol engine, written once and shared by both client flavours."""

from __future__ import annotations

from ._blocking import BlockingEngine
from ._engine import (
    LATEST_PROTOCOL_VERSION,
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    SUPPORTED_PROTOCOL_VERSIONS,
    Engine,
    Handlers,
    forget_eras,
)

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LEGACY_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "BlockingEngine",
    "Engine",
    "Handlers",
    "forget_eras",
]

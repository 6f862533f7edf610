"""The async protocol engine, written once and shared by both client flavours."""

from __future__ import annotations

from ._blocking import BlockingEngine
from ._engine import (
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    Engine,
    Handlers,
)

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "BlockingEngine",
    "Engine",
    "Handlers",
]

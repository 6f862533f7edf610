"""Protocol versions, the two eras, and the memory of which era each endpoint speaks.

Owns: the version constants, the era and transport preferences a client may pin, the
JSON-RPC codes only a modern server sends, the methods that are safe to send twice, and
:class:`EraMemory`, the injectable record of what was learnt about each endpoint (its era,
and whether it speaks the deprecated HTTP+SSE transport) so later clients skip the probe.
"""

from __future__ import annotations

import threading
from typing import Literal

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LEGACY_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "EraMemory",
    "EraPreference",
    "TransportPreference",
    "check_preferences",
    "forget_eras",
]

MODERN_PROTOCOL_VERSIONS = ("2026-07-28",)
"""Versions of the stateless era, newest first."""
LEGACY_PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Versions negotiated with ``initialize``, newest first."""
SUPPORTED_PROTOCOL_VERSIONS = MODERN_PROTOCOL_VERSIONS + LEGACY_PROTOCOL_VERSIONS
"""Every version this client speaks, newest first."""
LATEST_PROTOCOL_VERSION = MODERN_PROTOCOL_VERSIONS[0]

EraPreference = Literal["auto", "legacy", "modern"]
TransportPreference = Literal["auto", "streamable-http", "sse"]

# JSON-RPC codes only a modern server sends: such an error proves the era.
HEADER_MISMATCH = -32020
MISSING_CAPABILITY = -32021
UNSUPPORTED_VERSION = -32022
MODERN_ERROR_CODES = frozenset({HEADER_MISMATCH, MISSING_CAPABILITY, UNSUPPORTED_VERSION})

READS = frozenset(
    {
        "ping",
        "server/discover",
        "tools/list",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "completion/complete",
        "tasks/get",
        "tasks/list",
        "tasks/result",
        # Not reads, but safe to send twice: cancelling is idempotent, and a server
        # ignores the answers to input it already has (SEP-2663).
        "tasks/cancel",
        "tasks/update",
    }
)
"""Requests a server does not act on: sent again when their reply is lost. Anything else
(``tools/call``, extension methods) is sent at most once, unless the tool is declared
``idempotentHint``."""


class EraMemory:
    """What was learnt about endpoints: their era, and which speak HTTP+SSE.

    One instance is shared by every client that is not given its own, so a process probes
    each endpoint once; pass ``AsyncClient(era_memory=EraMemory())`` to keep a client's
    findings apart. Safe to share between threads.
    """

    def __init__(self) -> None:
        self._eras: dict[str, str] = {}
        self._sse: set[str] = set()
        self._lock = threading.Lock()

    def era_of(self, endpoint: str) -> str | None:
        """The era last found for ``endpoint``, if any."""
        return self._eras.get(endpoint)

    def remember_era(self, endpoint: str, era: str) -> None:
        """Record the era ``endpoint`` was found to speak."""
        with self._lock:
            self._eras[endpoint] = era

    def forget_era(self, endpoint: str) -> None:
        """Forget the era of ``endpoint`` (it is probed again)."""
        with self._lock:
            self._eras.pop(endpoint, None)

    def speaks_sse(self, endpoint: str) -> bool:
        """Whether ``endpoint`` was found to speak the HTTP+SSE transport."""
        return endpoint in self._sse

    def remember_sse(self, endpoint: str) -> None:
        """Record that ``endpoint`` speaks the HTTP+SSE transport."""
        with self._lock:
            self._sse.add(endpoint)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._eras.clear()
            self._sse.clear()


DEFAULT_ERA_MEMORY = EraMemory()
"""The memory shared by clients not given one of their own."""


def forget_eras() -> None:
    """Forget which endpoints were found to be legacy or modern, or to use the HTTP+SSE
    transport (they are probed again)."""
    DEFAULT_ERA_MEMORY.clear()


def check_preferences(
    era: EraPreference, protocol_version: str | None, transport: TransportPreference
) -> EraPreference:
    """The era a client's options pin (``protocol_version`` implies one).

    Raises:
        ValueError: an unknown era, transport or version, or a version of another era.
    """
    if transport not in ("auto", "streamable-http", "sse"):
        raise ValueError(f"transport must be 'auto', 'streamable-http' or 'sse', not {transport!r}")
    if era not in ("auto", "legacy", "modern"):
        raise ValueError(f"era must be 'auto', 'legacy' or 'modern', not {era!r}")
    if protocol_version is None:
        return era
    if protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise ValueError(
            f"protocol_version {protocol_version!r} is not one of {SUPPORTED_PROTOCOL_VERSIONS}"
        )
    implied: EraPreference = "modern" if protocol_version in MODERN_PROTOCOL_VERSIONS else "legacy"
    if era not in ("auto", implied):
        raise ValueError(f"protocol_version {protocol_version!r} is not of the {era} era")
    return implied

"""Negotiation: which era and version the server speaks, found once per connection.

Owns: the modern ``server/discover`` probe and its version retries, the legacy
``initialize`` handshake (and ``notifications/initialized``), the fall back from one to the
other, the switch to the deprecated HTTP+SSE transport when POSTs are refused, the era
memory's updates, and renegotiation when a modern server stops speaking a version. Its
outcome is one immutable :class:`Negotiated` value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .._wire import from_wire, to_wire
from ..errors import (
    HTTPStatusError,
    InvalidResponseError,
    JSONRPCError,
    ProtocolError,
    ReplyLostError,
    RequestTimeoutError,
    TransportError,
    UnsupportedProtocolVersionError,
)
from ..types import DiscoverResult, Implementation, InitializeResult
from . import _versions as versions
from ._correlation import Correlator
from ._responder import Handlers
from ._versions import EraMemory, EraPreference

__all__ = ["Negotiated", "Negotiator"]

log = logging.getLogger("duomcp")

_REFUSED = (400, 404, 405)  # a POST refused with these may mean an older server


@attrs.frozen
class Negotiated:
    """What the connection agreed on with the server."""

    era: str
    protocol_version: str
    discover_result: DiscoverResult | None = None
    """A modern server's description of itself."""
    initialize_result: InitializeResult | None = None
    """A legacy server's answer to ``initialize``."""


def _supported_versions(data: Any) -> tuple[str, ...]:
    supported = data.get("supported") if isinstance(data, dict) else None
    if not isinstance(supported, list):
        return ()
    return tuple(v for v in supported if isinstance(v, str))


class Negotiator:
    """Finds the era and version; swaps the correlator's transport for HTTP+SSE if needed."""

    def __init__(
        self,
        correlator: Correlator,
        *,
        handlers: Handlers,
        client_info: Implementation,
        era: EraPreference,
        protocol_version: str | None,
        transport_pinned: bool,
        memory: EraMemory,
        modern_params: Callable[[], dict[str, Any]],
    ) -> None:
        self._correlator = correlator
        self.state = correlator.state
        self._handlers = handlers
        self._client_info = client_info
        self.era_preference = era
        self.pinned_version = protocol_version
        self._offered_version = (
            protocol_version
            if protocol_version in versions.LEGACY_PROTOCOL_VERSIONS
            else versions.LEGACY_PROTOCOL_VERSIONS[0]
        )
        self._transport_pinned = transport_pinned
        self._memory = memory
        self._modern_params = modern_params

    async def negotiate(self) -> Negotiated:
        """Find the server's era and version: the probe, ``initialize``, or both; then the
        HTTP+SSE transport if the server refuses POSTs as an old one does."""
        try:
            return await self._negotiate()
        except HTTPStatusError as exc:
            if self._transport_pinned or self.era_preference == "modern":
                raise
            if exc.status not in _REFUSED:
                raise
            fallback = self._correlator.transport.fallback()
            if fallback is None:
                raise
            return await self._switch(fallback, exc)

    async def _switch(self, sse: Any, refused: HTTPStatusError) -> Negotiated:
        """Try the deprecated HTTP+SSE transport: a GET stream that names a POST URL."""
        endpoint = self.state.endpoint
        log.debug("%s refused a POST (%s); trying the HTTP+SSE transport", endpoint, refused)
        previous = self._correlator.transport
        self._correlator.transport = sse
        self.state.reset_session()
        self.state.era = None
        try:
            negotiated = await self.initialize()
        except BaseException as exc:
            self._correlator.transport = previous
            await sse.close()
            if isinstance(exc, TransportError):
                raise refused from exc  # not an SSE server either: the first answer says more
            raise
        await previous.close()  # the connection pool stays with the new transport
        self._memory.remember_sse(endpoint)
        return negotiated

    async def _negotiate(self) -> Negotiated:
        endpoint = self.state.endpoint
        era = self.era_preference
        remember = era == "auto" and self._correlator.transport.remembers_era
        known = self._memory.era_of(endpoint) if remember else None
        if era == "legacy" or known == "legacy":
            try:
                negotiated = await self.initialize()
            except (HTTPStatusError, JSONRPCError) as exc:
                status = exc.status if isinstance(exc, HTTPStatusError) else exc.http_status
                if known is None or status not in _REFUSED:
                    raise
                log.info("%s no longer takes initialize (%s); probing its era again", endpoint, exc)
                self._memory.forget_era(endpoint)
                negotiated = await self._probe()
        else:
            negotiated = await self._probe()
        if remember:
            self._memory.remember_era(endpoint, negotiated.era)
        return negotiated

    async def _probe(self) -> Negotiated:
        """Modern ``server/discover`` first; fall back to ``initialize`` when allowed."""
        fallback = self.era_preference == "auto"
        pinned = self.pinned_version
        ours = (pinned,) if pinned is not None else versions.MODERN_PROTOCOL_VERSIONS
        version = ours[0]
        tried: list[str] = []
        # A legacy stdio server may ignore an unknown request: wait for it only so long.
        probe_timeout = self._correlator.transport.probe_timeout
        if probe_timeout is not None:
            probe_timeout = min(self._correlator.timeout, probe_timeout)
        while True:
            tried.append(version)
            self.state.reset_session()
            self.state.era = "modern"
            self.state.protocol_version = version
            try:
                raw = await self._correlator.roundtrip(
                    "server/discover", self._modern_params(), probe_timeout, None, handshake=True
                )
            except JSONRPCError as exc:
                if exc.code == versions.UNSUPPORTED_VERSION:
                    supported = _supported_versions(exc.data)
                    mutual = [v for v in ours if v in supported]
                    # Prefer a version not tried yet; a server that refuses a version it
                    # names as supported (a fleet mid-upgrade) gets one more try.
                    mutual = [v for v in mutual if v not in tried] + [
                        v for v in mutual if tried.count(v) == 1
                    ]
                    if mutual:
                        log.info(
                            "%s does not speak %s; retrying with %s",
                            self.state.endpoint,
                            version,
                            mutual[0],
                        )
                        version = mutual[0]
                        continue
                    if fallback and any(v in versions.LEGACY_PROTOCOL_VERSIONS for v in supported):
                        return await self._fall_back(exc)
                    raise self.version_error(version, supported) from exc
                if exc.code in versions.MODERN_ERROR_CODES:
                    raise  # a modern server refusing us: falling back would be wrong
                return await self._not_modern(exc, fallback)
            except HTTPStatusError as exc:
                if exc.status not in _REFUSED:
                    raise
                return await self._not_modern(exc, fallback)
            except InvalidResponseError as exc:
                return await self._not_modern(exc, fallback)
            except (RequestTimeoutError, ReplyLostError) as exc:
                if not fallback:
                    raise  # pinned modern: the failure itself says most
                return await self._fall_back(exc)
            break
        try:
            result = from_wire(raw, DiscoverResult)
        except InvalidResponseError as exc:
            # Some legacy servers answer any method with a result: not a modern one.
            return await self._not_modern(exc, fallback)
        if version not in result.supported_versions:
            mutual = [v for v in ours if v in result.supported_versions]
            if not mutual:
                if fallback and any(
                    v in versions.LEGACY_PROTOCOL_VERSIONS for v in result.supported_versions
                ):
                    return await self._fall_back(None)
                raise self.version_error(version, tuple(result.supported_versions))
            version = mutual[0]
            self.state.protocol_version = version
        return Negotiated("modern", version, discover_result=result)

    async def _not_modern(self, exc: Exception, fallback: bool) -> Negotiated:
        if fallback:
            return await self._fall_back(exc)
        raise ProtocolError(
            f"{self.state.endpoint} did not answer server/discover as a modern (2026-07-28) "
            f"server ({exc}); it may be a legacy server: use era='auto' or 'legacy'"
        ) from exc

    async def _fall_back(self, reason: BaseException | None) -> Negotiated:
        log.debug("%s is not a modern server (%s); sending initialize", self.state.endpoint, reason)
        self.state.reset_session()
        self.state.era = None
        return await self.initialize()

    def version_error(
        self, requested: str, supported: Sequence[str]
    ) -> UnsupportedProtocolVersionError:
        """The error for a server that speaks none of our versions."""
        pinned = self.pinned_version
        ours = (pinned,) if pinned else versions.SUPPORTED_PROTOCOL_VERSIONS
        return UnsupportedProtocolVersionError(
            f"{self.state.endpoint} speaks MCP {', '.join(supported) or 'nothing it named'}; "
            f"this client speaks {', '.join(ours)}",
            requested=requested,
            supported=tuple(supported),
        )

    async def initialize(self) -> Negotiated:
        """The legacy handshake: ``initialize``, then ``notifications/initialized``.

        Raises:
            UnsupportedProtocolVersionError: the server answered a version we do not speak.
        """
        state = self.state
        state.reset_session()
        params = {
            "protocolVersion": self._offered_version,
            "capabilities": self._handlers.capabilities(),
            "clientInfo": to_wire(self._client_info),
        }
        correlator = self._correlator
        try:
            result = await correlator.roundtrip("initialize", params, None, None, handshake=True)
        except JSONRPCError as exc:
            if exc.code != versions.UNSUPPORTED_VERSION:
                raise
            # A modern-only server names its versions in its answer to initialize.
            supported = _supported_versions(exc.data)
            raise UnsupportedProtocolVersionError(
                f"{state.endpoint} speaks only MCP {', '.join(supported) or '?'}, "
                f"without initialize; this client was pinned to the legacy era "
                f"({self._offered_version}): use era='auto'",
                requested=self._offered_version,
                supported=supported,
            ) from exc
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        pinned = self.pinned_version
        if version not in versions.LEGACY_PROTOCOL_VERSIONS or (
            pinned is not None and version != pinned
        ):
            await correlator.transport.delete_session()
            ours = (pinned,) if pinned else versions.LEGACY_PROTOCOL_VERSIONS
            raise UnsupportedProtocolVersionError(
                f"{state.endpoint} speaks MCP {version!r}; this client speaks "
                f"{', '.join(ours)} through initialize",
                requested=self._offered_version,
                supported=(str(version),),
            )
        init = from_wire(result, InitializeResult)
        state.protocol_version = version
        state.era = "legacy"
        await correlator.notify("notifications/initialized", None)
        return Negotiated("legacy", version, initialize_result=init)

    def renegotiate(self, exc: JSONRPCError) -> str:
        """A modern server refused our version mid-connection (-32022): switch to another
        version both sides speak and return it.

        Raises:
            UnsupportedProtocolVersionError: there is none.
        """
        supported = _supported_versions(exc.data)
        current = self.state.protocol_version or ""
        pinned = self.pinned_version
        ours = (pinned,) if pinned else versions.MODERN_PROTOCOL_VERSIONS
        mutual = [v for v in ours if v in supported]
        mutual.sort(key=lambda v: v == current)  # another version first, else this one again
        if not mutual:
            raise self.version_error(current, supported) from exc
        log.info("%s no longer speaks %s; switching to %s", self.state.endpoint, current, mutual[0])
        self.state.protocol_version = mutual[0]
        return mutual[0]

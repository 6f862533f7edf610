"""The modern (2026-07-28) request path: stateless requests with per-request ``_meta``.

Owns: the ``_meta`` every modern request carries (version, capabilities, client info, log
level, trace context), the result cache (``ttlMs``/``cacheScope``, keyed per credential),
multi round-trip requests (``input_required`` answered by the one responder, with
``requestState`` echoed and ``max_input_rounds`` enforced), and recovery: a version the
server stopped speaking (renegotiated once), headers it refused (tools listed again once),
and a lost reply (sent again only when :meth:`ToolRegistry.may_resend` allows).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._cache import CACHEABLE_METHODS, ResultCache, identity_of
from ..connection import PROTOCOL_VERSION_META
from ..errors import (
    CapabilityNotSupportedError,
    InputRequiredLimitError,
    InvalidResponseError,
    JSONRPCError,
    ReplyLostError,
)
from ._correlation import Correlator, ProgressCallback
from ._negotiation import Negotiator
from ._responder import Responder, answer_inputs
from ._tools import ToolRegistry
from ._versions import HEADER_MISMATCH, MISSING_CAPABILITY, UNSUPPORTED_VERSION

__all__ = ["ModernPath"]

log = logging.getLogger("duomcp")

_META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
_META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
_META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
_MRTR_METHODS = frozenset({"tools/call", "resources/read", "prompts/get"})


class ModernPath:
    """Sends requests to a modern server."""

    def __init__(
        self,
        correlator: Correlator,
        negotiator: Negotiator,
        responder: Responder,
        tools: ToolRegistry,
        *,
        capabilities: dict[str, Any],
        client_info: dict[str, Any],
        trace_fields: Callable[[], dict[str, str]] | None,
        cache: ResultCache | None,
        max_input_rounds: int,
        relist_tools: Callable[[float | None], Awaitable[None]],
    ) -> None:
        self._correlator = correlator
        self.state = correlator.state
        self._negotiator = negotiator
        self._responder = responder
        self._tools = tools
        self._capabilities = capabilities
        self._client_info = client_info
        self._trace_fields = trace_fields
        self.cache = cache
        self._max_input_rounds = max_input_rounds
        self._relist_tools = relist_tools
        self.log_level: str | None = None
        """The log level asked for on every request (``None``: no logs)."""

    def params(
        self,
        params: Mapping[str, Any] | None,
        input_responses: Mapping[str, Any] | None = None,
        request_state: str | None = None,
    ) -> dict[str, Any]:
        """``params`` with the per-request ``_meta`` of the modern era."""
        out = dict(params or {})
        meta = dict(out.get("_meta") or {})
        if self._trace_fields is not None:
            meta.update(self._trace_fields())
        meta[PROTOCOL_VERSION_META] = self.state.protocol_version
        meta[_META_CAPABILITIES] = self._capabilities
        meta[_META_CLIENT_INFO] = self._client_info
        if self.log_level is not None:
            meta[_META_LOG_LEVEL] = self.log_level
        out["_meta"] = meta
        if input_responses is not None:
            out["inputResponses"] = dict(input_responses)
        if request_state is not None:
            out["requestState"] = request_state
        return out

    async def _identity(self) -> str:
        auth = self.state.auth
        headers = dict(self.state.extra_headers)
        if auth is not None:
            headers.update(await auth.auth_headers())
        return identity_of(headers)

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        use_cache: bool = True,
    ) -> Any:
        """Send one request (and its input rounds); return the complete result."""
        endpoint = self.state.endpoint
        cache = self.cache if method in CACHEABLE_METHODS and use_cache else None
        key = None
        if cache is not None:
            key = cache.key(endpoint, method, params)
            hit = cache.get(key, await self._identity())
            if hit is not None:
                return hit
        input_responses: dict[str, Any] | None = None
        request_state: str | None = None
        rounds = reissues = 0
        version_retried = headers_retried = False
        while True:
            full = self.params(params, input_responses, request_state)
            try:
                result = await self._correlator.roundtrip(method, full, timeout, on_progress)
            except ReplyLostError as exc:
                self._tools.resend_or_raise(method, params, exc, reissues)
                reissues += 1
                continue
            except JSONRPCError as exc:
                if exc.code == UNSUPPORTED_VERSION and not version_retried:
                    version_retried = True
                    self._negotiator.renegotiate(exc)
                    continue
                if exc.code == HEADER_MISMATCH and method == "tools/call" and not headers_retried:
                    headers_retried = True
                    log.info("%s refused the headers of tools/call; listing tools again", endpoint)
                    await self._relist_tools(timeout)
                    continue
                if exc.code == MISSING_CAPABILITY:
                    raise self._capability_error(method, exc) from exc
                if cache is not None and params and "cursor" in params:
                    cache.invalidate(endpoint, method)
                raise
            kind = result.get("resultType", "complete") if isinstance(result, dict) else None
            if kind == "complete":
                if cache is not None and key is not None and rounds == 0:
                    cache.put(key, await self._identity(), result)
                return result
            if kind == "task" and method == "tools/call":
                return result  # the caller drives the task (SEP-2663)
            if kind != "input_required" or method not in _MRTR_METHODS:
                raise InvalidResponseError(f"{method} on {endpoint} returned resultType {kind!r}")
            if rounds >= self._max_input_rounds:
                raise InputRequiredLimitError(
                    f"{method} on {endpoint} still asked for input after "
                    f"{rounds} rounds (max_input_rounds={self._max_input_rounds})"
                )
            rounds += 1
            state = result.get("requestState")
            if state is not None and not isinstance(state, str):
                raise InvalidResponseError(f"{method}: requestState is not a string")
            request_state = state
            requests = result.get("inputRequests")
            # Without input requests (load shedding) the request is simply sent again.
            input_responses = None if requests is None else await self._fulfil(method, requests)

    def _capability_error(self, method: str, exc: JSONRPCError) -> CapabilityNotSupportedError:
        required = exc.data.get("requiredCapabilities") if isinstance(exc.data, dict) else None
        names = ", ".join(sorted(required)) if isinstance(required, dict) else "?"
        return CapabilityNotSupportedError(
            f"{method} on {self.state.endpoint} needs client capabilities {names}; give the "
            "client the matching handler (sampling_handler, elicitation_handler, roots)"
        )

    async def _fulfil(self, method: str, requests: Any) -> dict[str, Any]:
        """Answer a server's input requests with the same responder as legacy requests."""
        answers = await answer_inputs(
            self._responder.serve, requests, what=method, endpoint=self.state.endpoint
        )
        assert answers is not None  # no timeout: every answer, or an error
        return answers

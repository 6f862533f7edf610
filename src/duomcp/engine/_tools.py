"""The tool registry, the one paginator, and the rule of what may be sent twice.

Owns: what the client knows of the server's tools -- output schemas (checked against
structured results), ``x-mcp-header`` annotations (mirrored into headers in the modern
era; a tool breaking their rules is dropped and remembered as rejected), and which tools
declare ``idempotentHint`` -- fed only by :func:`paginate`, the one walk over a list
method's pages, which honours ``max_pages``. :meth:`ToolRegistry.may_resend` is the
at-most-once rule: reads and idempotent tools may be sent again after a lost reply,
nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from .._mcp_headers import param_headers
from ..connection import ConnectionState
from ..errors import InvalidRequestError, OutcomeUnknownError, ProtocolError, ReplyLostError
from ._versions import READS

__all__ = ["REISSUES", "ToolRegistry", "lost_reply", "paginate"]

log = logging.getLogger("duomcp")

REISSUES = 2
"""Times a request whose reply was lost is sent again, when that is allowed."""

PageRequest = Callable[[str, "dict[str, Any] | None"], Awaitable[Any]]


async def paginate(
    request: PageRequest,
    method: str,
    *,
    max_pages: int,
    endpoint: str,
    on_page: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield the raw pages of a list method, following ``nextCursor``.

    Raises:
        ProtocolError: the server returned more than ``max_pages`` pages.
    """
    cursor: str | None = None
    for _ in range(max_pages):
        page = await request(method, None if cursor is None else {"cursor": cursor})
        if not isinstance(page, dict):
            yield page
            return
        if on_page is not None:
            page = on_page(page)
        yield page
        cursor = page.get("nextCursor")
        if not isinstance(cursor, str):
            return
    raise ProtocolError(
        f"{method} on {endpoint} returned more than {max_pages} pages; "
        "raise max_pages to read them all"
    )


def lost_reply(method: str, params: Mapping[str, Any] | None, exc: Exception) -> Exception:
    """The error for a request the client will not send again after its reply was lost."""
    what = method
    if method == "tools/call" and params is not None and isinstance(params.get("name"), str):
        what = f"tools/call of {params['name']!r}"
    return OutcomeUnknownError(
        f"{exc}; {what} may or may not have run, and was not sent again (the server may act "
        "on it; only reads and tools declared idempotentHint are re-sent)",
        method=method,
    )


class ToolRegistry:
    """What was learnt from ``tools/list`` pages."""

    def __init__(self, state: ConnectionState) -> None:
        self._state = state
        self.output_schemas: dict[str, Any] = {}
        """Output schemas of the tools last listed, by name; cleared on list_changed."""
        self.rejected: dict[str, str] = {}
        """Tools dropped from listings because their definition breaks the spec, and why."""
        self._idempotent: set[str] = set()
        self.task_support: dict[str, str] = {}
        """``execution.taskSupport`` of the tools last listed (2025-11-25), by name."""

    def forget_schemas(self) -> None:
        """The tool list changed (or a new session began): forget what it said."""
        self.output_schemas.clear()
        self._idempotent.clear()
        self.task_support.clear()

    def accept_page(self, page: dict[str, Any]) -> dict[str, Any]:
        """A ``tools/list`` page with the tools that break the rules left out."""
        tools = page.get("tools")
        if not isinstance(tools, list):
            return page
        return {**page, "tools": self.accept(tools)}

    def accept(self, tools: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Record the output schemas, header annotations and idempotence of listed tools;
        in the modern era drop (with a warning) those whose ``x-mcp-header`` annotations
        break the rules."""
        state = self._state
        kept = []
        for tool in tools:
            name = tool.get("name")
            if not isinstance(name, str):
                kept.append(tool)
                continue
            schema = tool.get("inputSchema")
            if state.era == "modern" and isinstance(schema, Mapping):
                try:
                    headers = param_headers(schema)
                except ValueError as exc:
                    log.warning("dropped tool %r of %s: %s", name, state.endpoint, exc)
                    self.rejected[name] = str(exc)
                    state.tool_headers.pop(name, None)
                    continue
                state.tool_headers[name] = headers
            self.rejected.pop(name, None)
            self.output_schemas[name] = tool.get("outputSchema")
            annotations = tool.get("annotations")
            if isinstance(annotations, Mapping) and annotations.get("idempotentHint") is True:
                self._idempotent.add(name)
            else:
                self._idempotent.discard(name)
            execution = tool.get("execution")
            support = execution.get("taskSupport") if isinstance(execution, Mapping) else None
            self.task_support[name] = support if isinstance(support, str) else "forbidden"
            kept.append(tool)
        return kept

    def may_resend(self, method: str, params: Mapping[str, Any] | None) -> bool:
        """Whether a request whose reply was lost may be sent again: a read, or a call of
        a tool listed with ``idempotentHint: true``."""
        if method in READS:
            return True
        if method == "tools/call" and params is not None:
            return params.get("name") in self._idempotent
        return False

    def resend_or_raise(
        self, method: str, params: Mapping[str, Any] | None, exc: ReplyLostError, resent: int
    ) -> None:
        """A request's reply was lost after ``resent`` re-sends: return if it may go once
        more, else raise (:class:`OutcomeUnknownError` when it must not be re-sent)."""
        if isinstance(exc, OutcomeUnknownError):
            raise exc
        if not self.may_resend(method, params):
            raise lost_reply(method, params, exc) from exc
        if resent >= REISSUES:
            raise exc
        log.info("the reply of %s to %s was lost; sending it again", method, self._state.endpoint)

    def prepared(self, name: str, connected: bool) -> bool:
        """Whether a call of ``name`` may go at once (connected; its headers known)."""
        if not connected:
            return False
        return self._state.era != "modern" or name in self._state.tool_headers

    def needs_listing(self, name: str) -> bool:
        """Modern era: whether ``name``'s header annotations are unknown yet."""
        return name not in self._state.tool_headers and name not in self.rejected

    def check_offered(self, name: str) -> None:
        """Raise if ``name`` was dropped for an invalid definition.

        Raises:
            InvalidRequestError: the tool's definition breaks the spec.
        """
        if name in self.rejected:
            raise InvalidRequestError(
                f"tool {name!r} of {self._state.endpoint} has an invalid definition and is "
                f"not offered: {self.rejected[name]}"
            )

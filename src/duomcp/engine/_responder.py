"""The user's handlers, and the one responder that answers what a server asks of them.

Owns: :class:`Handlers` (sampling, elicitation, roots, notification callbacks) and the
client capabilities they imply, and :class:`Responder`, which answers a server's request
with them -- a legacy JSON-RPC request and a modern ``input_required`` input request take
the same path. At most ``max_concurrent`` handlers run at once; a handler's exception is
logged here and reaches the server only as a generic error, never with its text.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs

from .. import _jsonrpc as rpc
from .._wire import from_wire, to_wire
from ..errors import CapabilityNotSupportedError, InvalidResponseError, JSONRPCError
from ..tasks import ToolTask
from ..types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    LoggingMessageNotificationParams,
    Root,
)
from ..types._lazy import evolve

__all__ = [
    "INPUT_KINDS",
    "MAX_INPUT_REQUESTS",
    "BlockingElicitationHandler",
    "BlockingRootsHandler",
    "BlockingSamplingHandler",
    "ElicitationHandler",
    "Handlers",
    "Responder",
    "RootsHandler",
    "SamplingHandler",
    "answer_inputs",
]

log = logging.getLogger("duomcp")

SamplingHandler = Callable[[CreateMessageRequestParams], Awaitable[CreateMessageResult]]
ElicitationHandler = Callable[
    ["ElicitRequestFormParams | ElicitRequestURLParams"], Awaitable[ElicitResult]
]
RootsHandler = Callable[[], Awaitable[Sequence[Root]]]
BlockingSamplingHandler = Callable[[CreateMessageRequestParams], CreateMessageResult]
BlockingElicitationHandler = Callable[
    ["ElicitRequestFormParams | ElicitRequestURLParams"], ElicitResult
]
BlockingRootsHandler = Callable[[], Sequence[Root]]

SERVER_REQUESTS = frozenset({"ping", "roots/list", "sampling/createMessage", "elicitation/create"})


@attrs.frozen(kw_only=True)
class Handlers:
    """The user's answers to server requests and receivers of server notifications.

    The engine awaits what handlers return; notification callbacks may be plain functions
    or coroutine functions and run one at a time, in arrival order.
    """

    sampling: Callable[[CreateMessageRequestParams], Any] | None = None
    elicitation: Callable[[ElicitRequestFormParams | ElicitRequestURLParams], Any] | None = None
    elicitation_modes: tuple[str, ...] = ("form", "url")
    roots: Callable[[], Any] | None = None
    on_logging_message: Callable[[LoggingMessageNotificationParams], Any] | None = None
    on_tools_changed: Callable[[], Any] | None = None
    on_prompts_changed: Callable[[], Any] | None = None
    on_resources_changed: Callable[[], Any] | None = None
    on_resource_updated: Callable[[str], Any] | None = None
    on_task_status: Callable[[ToolTask], Any] | None = None
    on_notification: Callable[[str, Mapping[str, Any]], Any] | None = None

    def capabilities(self, era: str = "legacy") -> dict[str, Any]:
        """Client capabilities: exactly what the given handlers can do, in that era's shape."""
        caps: dict[str, Any] = {}
        if self.roots is not None:
            caps["roots"] = {"listChanged": True} if era == "legacy" else {}
        if self.sampling is not None:
            caps["sampling"] = {}
        if self.elicitation is not None:
            caps["elicitation"] = {mode: {} for mode in self.elicitation_modes}
        return caps


async def call(callback: Callable[..., Any], *args: Any) -> Any:
    """Call a plain or coroutine function and return its (awaited) result."""
    result = callback(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _apply_elicitation_defaults(
    params: ElicitRequestFormParams, result: ElicitResult
) -> ElicitResult:
    """Fill in schema defaults for fields an accepted form left out."""
    if result.action != "accept":
        return result
    properties = params.requested_schema.get("properties") or {}
    content = dict(result.content or {})
    for name, schema in properties.items():
        if name not in content and isinstance(schema, Mapping) and "default" in schema:
            content[name] = schema["default"]
    return evolve(result, content=content)


class Responder:
    """Answers server requests with the user's handlers, at most ``max_concurrent`` at once."""

    def __init__(self, handlers: Handlers, *, max_concurrent: int = 16) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent_handlers must be at least 1")
        self.handlers = handlers
        self.max_concurrent = max_concurrent
        self._slots: asyncio.Semaphore | None = None

    async def serve(self, method: str, params: Mapping[str, Any]) -> Any:
        """The wire result of one server request.

        Raises:
            JSONRPCError: the request is refused (unknown method, bad params, no handler);
                a handler's own failure becomes a generic internal error.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        async with self._slots:
            try:
                return await self._serve(method, params)
            except (JSONRPCError, asyncio.CancelledError):
                raise
            except InvalidResponseError as exc:
                raise JSONRPCError(rpc.INVALID_PARAMS, str(exc)) from exc
            except Exception as exc:
                # The handler's text may hold anything (paths, secrets): the log gets it,
                # the server a generic error.
                log.exception("the handler for %s raised", method)
                raise JSONRPCError(rpc.INTERNAL_ERROR, "the client's handler failed") from exc

    async def _serve(self, method: str, params: Mapping[str, Any]) -> Any:
        handlers = self.handlers
        if method == "ping":
            return {}
        if method == "roots/list" and handlers.roots is not None:
            roots = await call(handlers.roots)
            return {"roots": [to_wire(root) for root in roots]}
        if method == "sampling/createMessage" and handlers.sampling is not None:
            request = from_wire(params, CreateMessageRequestParams)
            return to_wire(await call(handlers.sampling, request))
        if method == "elicitation/create" and handlers.elicitation is not None:
            mode = params.get("mode", "form")
            if mode not in handlers.elicitation_modes:
                raise JSONRPCError(rpc.INVALID_PARAMS, f"elicitation mode {mode!r} not supported")
            if mode == "url":
                url_params = from_wire(params, ElicitRequestURLParams)
                return to_wire(await call(handlers.elicitation, url_params))
            form = from_wire(params, ElicitRequestFormParams)
            answer = await call(handlers.elicitation, form)
            return to_wire(_apply_elicitation_defaults(form, answer))
        raise JSONRPCError(rpc.METHOD_NOT_FOUND, f"the client does not handle {method!r}")


INPUT_KINDS = frozenset({"sampling/createMessage", "elicitation/create", "roots/list"})
"""The server requests a modern server may ask inside a result (``inputRequests``)."""
MAX_INPUT_REQUESTS = 64
"""Input requests answered at once, at most."""


async def answer_inputs(
    serve: Callable[[str, Mapping[str, Any]], Awaitable[Any]],
    requests: Any,
    *,
    what: str,
    endpoint: str,
    timeout: float | None = None,
) -> dict[str, Any] | None:
    """Answer ``inputRequests`` (MRTR rounds, and a task's input) with the handlers:
    every answer, or the first failure with the rest cancelled. ``None`` when ``timeout``
    ran out first (nothing is answered then).

    Raises:
        InvalidResponseError: the requests are malformed, too many, or of an unknown kind.
        CapabilityNotSupportedError: one asks for a handler the client does not have.
    """
    if not isinstance(requests, Mapping) or len(requests) > MAX_INPUT_REQUESTS:
        raise InvalidResponseError(
            f"{what}: inputRequests must be an object of at most {MAX_INPUT_REQUESTS}"
        )

    async def answer(key: str, request: Any) -> tuple[str, Any]:
        if not isinstance(request, Mapping) or request.get("method") not in INPUT_KINDS:
            raise InvalidResponseError(
                f"{what}: input request {key!r} is malformed or of an unknown kind"
            )
        kind = request["method"]
        try:
            return key, await serve(kind, request.get("params") or {})
        except JSONRPCError as exc:
            if exc.code == rpc.METHOD_NOT_FOUND:
                raise CapabilityNotSupportedError(
                    f"{what} on {endpoint} asks for {kind}, which this client has no handler for"
                ) from exc
            raise

    jobs = [asyncio.ensure_future(answer(k, r)) for k, r in requests.items()]
    if not jobs:
        return {}
    try:
        done, pending = await asyncio.wait(
            jobs,
            timeout=None if timeout is None else max(timeout, 0),
            return_when=asyncio.FIRST_EXCEPTION,
        )
        for job in done:
            error = job.exception()
            if error is not None:
                raise error
        return None if pending else dict(job.result() for job in jobs)
    finally:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)

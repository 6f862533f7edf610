"""The duomcp client: every MCP feature a client can use, one method each."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._cache import ResultCache
from .._schema import validate_structured_content
from .._version import version
from .._wire import from_wire, to_wire
from ..auth import Auth
from ..engine import Engine, EraMemory, Handlers
from ..engine._correlation import ProgressCallback
from ..engine._responder import ElicitationHandler, RootsHandler, SamplingHandler
from ..engine._versions import EraPreference, TransportPreference
from ..errors import CapabilityNotSupportedError, InvalidResponseError
from ..tasks import ToolTask
from ..transports._http import HTTPOptions
from ..types import (
    CallToolResult,
    CompleteResult,
    DiscoverResult,
    GetPromptResult,
    Implementation,
    InitializeResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    LoggingMessageNotificationParams,
    Prompt,
    PromptReference,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    ResourceTemplateReference,
    Root,
    ServerCapabilities,
    Tool,
)

__all__ = ["AsyncClient"]

if TYPE_CHECKING:
    from ..skills import LoadedSkill, Skill
    from ..transports.stdio import StdioServer

_T = TypeVar("_T")
_SelfT = TypeVar("_SelfT", bound="AsyncClient")

_LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class AsyncClient:
    """A client for one MCP server (Streamable HTTP, stdio, or HTTP+SSE), of either era.

    Use it as a context manager, which connects on entry and closes on exit; without one,
    the client connects on its first call and must be closed with :meth:`close`.

    The era is found on connection: a modern (2026-07-28, stateless) request goes first and
    a legacy server (2025-11-25 back to 2024-11-05) gets ``initialize`` instead. The same
    calls and handlers work in both: a legacy server's sampling, elicitation and roots
    requests and a modern server's input requests reach the same handlers, and change
    notifications come from the legacy GET stream or the modern ``subscriptions/listen``.

    Args:
        url: the server's MCP endpoint, or a :class:`~duomcp.StdioServer` to start and
            talk to over its stdin and stdout.
        auth: credentials sent on every request, of every kind (see :mod:`duomcp.auth`).
        headers: extra HTTP headers for every request (protocol headers cannot be set).
        timeout: seconds a call may wait for its response; progress notifications restart
            the clock.
        max_timeout: absolute cap in seconds on any call, progress or not (``None``: none).
        client_info: name and version the client announces.
        sampling_handler: answers the server's ``sampling/createMessage`` requests.
        elicitation_handler: answers the server's ``elicitation/create`` requests; for an
            accepted form, fields the handler leaves out get the schema's defaults.
        elicitation_modes: which elicitation modes the handler supports.
        roots: the roots the client exposes, or a callable returning them.
        on_logging_message: receives the server's log messages.
        on_tools_changed: called when the server's tool list changed.
        on_prompts_changed: called when the server's prompt list changed.
        on_resources_changed: called when the server's resource list changed.
        on_resource_updated: called with the URI of a subscribed resource that changed.
        on_task_status: called with a :class:`~duomcp.tasks.ToolTask` whenever a task's
            state changes, as a status notification or a poll shows.
        on_notification: receives every notification, as method and raw params.
        protocol_version: pin one protocol version (and so its era); by default the newest
            version the server supports is used.
        era: ``"auto"`` (default) detects the server's era; ``"legacy"`` or ``"modern"``
            pins it and skips detection.
        max_input_rounds: how many times a modern server may ask for more input (sampling,
            elicitation, roots) within one call before it fails.
        cache: where modern results with ``ttlMs`` are kept (``True``: a cache of this
            client's own; a :class:`ResultCache` may be shared by clients; ``False``: none).
            ``private`` results are never served across credentials.
        trace_context: returns the W3C ``traceparent`` (and ``tracestate``, ``baggage``)
            to put in the ``_meta`` of every request.
        http_options: transport limits and timings.
        transport: ``"auto"`` (default) uses Streamable HTTP, and the deprecated HTTP+SSE
            transport (protocol 2024-11-05: a GET stream naming a POST URL) when the
            server refuses POSTs to the URL with 400, 404 or 405 and then answers a GET
            with that stream; ``"streamable-http"`` or ``"sse"`` pins one.
        max_pages: how many pages a ``list_*`` call gathers at most.
        validate_structured_content: check tool results against their ``outputSchema``.
        max_concurrent_handlers: how many of the server's requests (sampling, elicitation,
            roots) the handlers answer at once; the rest wait their turn.
        era_memory: where the era found for each endpoint is remembered (by default one
            memory shared by the process's clients, so each endpoint is probed once).
    """

    def __init__(
        self,
        url: str | StdioServer,
        *,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        max_timeout: float | None = 600.0,
        client_info: Implementation | None = None,
        sampling_handler: SamplingHandler | None = None,
        elicitation_handler: ElicitationHandler | None = None,
        elicitation_modes: Sequence[str] = ("form", "url"),
        roots: Sequence[Root] | RootsHandler | None = None,
        on_logging_message: Callable[[LoggingMessageNotificationParams], Any] | None = None,
        on_tools_changed: Callable[[], Any] | None = None,
        on_prompts_changed: Callable[[], Any] | None = None,
        on_resources_changed: Callable[[], Any] | None = None,
        on_resource_updated: Callable[[str], Any] | None = None,
        on_task_status: Callable[[ToolTask], Any] | None = None,
        on_notification: Callable[[str, Mapping[str, Any]], Any] | None = None,
        protocol_version: str | None = None,
        era: EraPreference = "auto",
        max_input_rounds: int = 8,
        cache: ResultCache | bool = True,
        trace_context: Callable[[], Mapping[str, str]] | None = None,
        http_options: HTTPOptions | None = None,
        transport: TransportPreference = "auto",
        max_pages: int = 1000,
        validate_structured_content: bool = True,
        max_concurrent_handlers: int = 16,
        era_memory: EraMemory | None = None,
    ) -> None:
        if roots is not None and not callable(roots):
            fixed_roots = tuple(roots)

            async def list_roots() -> Sequence[Root]:
                return fixed_roots

            roots = list_roots
        handlers = Handlers(
            sampling=sampling_handler,
            elicitation=elicitation_handler,
            elicitation_modes=tuple(elicitation_modes),
            roots=roots,
            on_logging_message=on_logging_message,
            on_tools_changed=on_tools_changed,
            on_prompts_changed=on_prompts_changed,
            on_resources_changed=on_resources_changed,
            on_resource_updated=on_resource_updated,
            on_task_status=on_task_status,
            on_notification=on_notification,
        )
        self._engine = Engine(
            url,
            auth=auth,
            headers=headers,
            client_info=client_info or Implementation(name="duomcp", version=version()),
            handlers=handlers,
            timeout=timeout,
            max_timeout=max_timeout,
            protocol_version=protocol_version,
            era=era,
            max_input_rounds=max_input_rounds,
            cache=ResultCache() if cache is True else (None if cache is False else cache),
            trace_context=trace_context,
            http_options=http_options,
            transport=transport,
            max_pages=max_pages,
            max_concurrent_handlers=max_concurrent_handlers,
            era_memory=era_memory,
        )
        self._validate = validate_structured_content

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self: _SelfT) -> _SelfT:
        try:
            await self.connect()
        except BaseException:
            await self.close()  # nothing leaks when connecting fails
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and engine.connected and not engine.closed:
            warnings.warn(
                f"unclosed MCP client for {engine.state.endpoint}; call close() or use it "
                "as a context manager",
                ResourceWarning,
                stacklevel=2,
            )

    async def connect(self) -> None:
        """Connect and perform the handshake now rather than on the first call."""
        await self._engine.connect()

    async def close(self) -> None:
        """End the session and release every connection; pending calls fail. Idempotent."""
        await self._engine.close()

    @property
    def closed(self) -> bool:
        """Whether the client has been closed."""
        return self._engine.closed

    @property
    def url(self) -> str:
        """The server's MCP endpoint (for stdio: ``"stdio: "`` and the command line)."""
        return self._engine.state.endpoint

    @property
    def initialize_result(self) -> InitializeResult | None:
        """What the server said about itself at connection, or ``None`` before connecting."""
        return self._engine.initialize_result

    @property
    def discover_result(self) -> DiscoverResult | None:
        """What a modern server said about itself (``server/discover``), or ``None``."""
        return self._engine.discover_result

    @property
    def server_capabilities(self) -> ServerCapabilities | None:
        """The server's capabilities (either era), or ``None`` before connecting."""
        return self._engine.server_capabilities

    @property
    def protocol_version(self) -> str | None:
        """The negotiated protocol version, or ``None`` before connecting."""
        return self._engine.state.protocol_version

    @property
    def era(self) -> str | None:
        """The protocol era of the server (``"legacy"`` or ``"modern"``), once known."""
        return self._engine.state.era

    @property
    def session_id(self) -> str | None:
        """The session id the server issued, if any."""
        return self._engine.state.session_id

    @property
    def rejected_tools(self) -> dict[str, str]:
        """Tools a modern server listed that were left out, by name, with the reason.

        A tool whose ``x-mcp-header`` annotations break the protocol's rules cannot be
        called correctly, so it is not returned by :meth:`list_tools`, and calling it
        raises :class:`~duomcp.errors.InvalidRequestError`.
        """
        return dict(self._engine.rejected_tools)

    # -- basics -------------------------------------------------------------------------

    async def ping(self, *, timeout: float | None = None) -> None:
        """Check that the server answers (``ping``; ``server/discover`` in the modern era,
        which has no ping).

        Raises:
            RequestTimeoutError: no answer within the timeout.
        """
        await self._engine.ping(timeout)

    async def discover(self, *, timeout: float | None = None) -> DiscoverResult:
        """Ask a modern server for its versions, capabilities and instructions again.

        Raises:
            CapabilityNotSupportedError: the server is of the legacy era (see
                :attr:`initialize_result` instead).
        """
        return from_wire(await self._engine.discover(timeout), DiscoverResult)

    async def set_logging_level(self, level: str, *, timeout: float | None = None) -> None:
        """Ask the server to send log messages at ``level`` and above (RFC 5424 names).

        Legacy servers are sent ``logging/setLevel``; modern ones get the level in the
        ``_meta`` of every later request, and send a call's logs on its own reply.

        Raises:
            CapabilityNotSupportedError: the server declared no ``logging`` capability.
        """
        if level not in _LOG_LEVELS:
            raise ValueError(f"level must be one of {_LOG_LEVELS}, not {level!r}")
        await self._engine.set_logging_level(level, timeout)

    async def send_roots_list_changed(self) -> None:
        """Tell the server that the roots changed, so it asks for them again.

        A modern server asks for roots within each call that needs them, so there is
        nothing to send; this returns at once.
        """
        await self._engine.roots_changed()

    async def clear_cache(self) -> None:
        """Forget the cached list and read results of this server (modern era)."""
        self._engine.clear_cache()

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Send any request by method name and return the raw ``result`` object.

        For methods this client has no typed call for (extensions, newer methods).
        """
        return await self._engine.request(
            method, None if params is None else dict(params), timeout=timeout
        )

    async def _pages(
        self,
        method: str,
        result_type: type[_T],
        timeout: float | None,
    ) -> AsyncIterator[_T]:
        async for raw in self._engine.pages(method, timeout):
            yield from_wire(raw, result_type)

    # -- tools --------------------------------------------------------------------------

    async def iter_tools(self, *, timeout: float | None = None) -> AsyncIterator[Tool]:
        """Yield the server's tools, fetching pages as they are needed."""
        async for page in self._pages("tools/list", ListToolsResult, timeout):
            for tool in page.tools:
                yield tool

    async def list_tools(self, *, timeout: float | None = None) -> list[Tool]:
        """Return all of the server's tools, every page gathered.

        From a modern server, tools whose ``x-mcp-header`` annotations break the spec are
        left out, with a warning logged.
        """
        tools = []
        async for tool in self.iter_tools(timeout=timeout):
            tools.append(tool)
        return tools

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> CallToolResult:
        """Call a tool and return its result.

        A tool that fails returns a result with ``is_error`` set; it is not raised.
        When the tool declares an ``outputSchema``, ``structured_content`` is checked
        against it. When the server runs the call as a task (a modern server's choice, or
        a legacy tool that requires it), the task is followed to its end, answering the
        input it asks for with the handlers, and its result returned the same way.

        Args:
            name: the tool's name.
            arguments: the tool's arguments.
            timeout: seconds to wait for the result (restarted by progress, and by a
                task's change of state).
            on_progress: called with ``(progress, total, message)`` as the server reports.
            meta: extra ``_meta`` entries for the request.

        Raises:
            JSONRPCError: the server refused the call (unknown tool, bad arguments).
            StructuredContentError: the structured result breaks the tool's outputSchema.
            RequestTimeoutError: no result in time; the call (or its task) was cancelled
                on the server.
            InputRequiredLimitError: a modern server asked for input too many times.
            InvalidRequestError: the tool's definition is invalid, or an argument cannot
                go into the header the tool declares for it.
            TaskFailedError: the call ran as a task, which failed with a JSON-RPC error.
            TaskCancelledError: the call ran as a task, which was cancelled.
            TaskNotFoundError: the call ran as a task, which the server forgot.
        """
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments or {})}
        if meta:
            params["_meta"] = dict(meta)
        _, raw = await self._engine.calls.call_tool(
            params, timeout=timeout, on_progress=on_progress
        )
        return await self._tool_result(name, raw, timeout)

    async def _tool_result(self, name: str, raw: Any, timeout: float | None) -> CallToolResult:
        result = from_wire(raw, CallToolResult)
        if self._validate and not result.is_error:
            known, schema = self._engine.calls.known_output_schema(name)
            if not known:  # lists the tools once
                schema = await self._engine.calls.output_schema(name, timeout)
            if schema is not None:
                validate_structured_content(name, schema, result.structured_content)
        return result

    # -- tasks --------------------------------------------------------------------------

    async def start_tool_task(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        ttl_ms: int | None = None,
        timeout: float | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ToolTask | CallToolResult:
        """Call a tool as a task and return the task at once, to follow it later with
        :meth:`get_task`, :meth:`task_result` and :meth:`cancel_task` (from this process
        or another one: keep :attr:`ToolTask.task_id`).

        A legacy (2025-11-25) server is asked for a task; a modern one decides alone, and
        may answer with the result at once, which is then returned as it is.

        Args:
            name: the tool's name.
            arguments: the tool's arguments.
            ttl_ms: how long the server should keep the task, in milliseconds (legacy era;
                the server may choose otherwise, see :attr:`ToolTask.ttl_ms`).
            timeout: seconds to wait for the server to create the task.
            meta: extra ``_meta`` entries for the request.

        Raises:
            CapabilityNotSupportedError: a legacy server or tool that runs no tasks.
            JSONRPCError: the server refused the call.
        """
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments or {})}
        if meta:
            params["_meta"] = dict(meta)
        task, raw = await self._engine.calls.call_tool(
            params, timeout=timeout, on_progress=None, as_task=True, ttl_ms=ttl_ms
        )
        if task is not None:
            return task
        return await self._tool_result(name, raw, timeout)

    async def get_task(self, task_id: str, *, timeout: float | None = None) -> ToolTask:
        """Ask the server for a task's current state (``tasks/get``).

        Raises:
            TaskNotFoundError: the server does not know the task (any more).
        """
        return await self._engine.calls.get_task(task_id, timeout)

    async def task_result(self, task_id: str, *, timeout: float | None = None) -> CallToolResult:
        """Wait for a task to end and return its tool result, answering the input it asks
        for with the handlers (the poll interval the server asks for is honoured).

        A timeout leaves the task running: ask again later, or :meth:`cancel_task`.
        The result is not checked against an ``outputSchema`` (a task id does not name
        its tool).

        Args:
            task_id: the id of a task this server created.
            timeout: seconds to wait, restarted whenever the task changes state.

        Raises:
            TaskFailedError: the task failed with a JSON-RPC error.
            TaskCancelledError: the task was cancelled.
            TaskNotFoundError: the server does not know the task (any more).
            RequestTimeoutError: the task did not end in time (it goes on).
        """
        raw = await self._engine.calls.task_outcome(task_id, timeout)
        return from_wire(raw, CallToolResult)

    async def cancel_task(self, task_id: str, *, timeout: float | None = None) -> None:
        """Ask the server to cancel a task (``tasks/cancel``). Cancelling is cooperative:
        the task may still complete. Cancelling a task that already ended does nothing.

        Raises:
            TaskNotFoundError: the server does not know the task.
        """
        await self._engine.calls.cancel_task(task_id, timeout)

    async def iter_tasks(self, *, timeout: float | None = None) -> AsyncIterator[ToolTask]:
        """Yield the tasks a 2025-11-25 server keeps for this session (``tasks/list``).

        Raises:
            CapabilityNotSupportedError: the server offers no task list (the tasks
                extension of the modern era has none).
        """
        async for page in self._engine.calls.task_pages(timeout):
            tasks = page.get("tasks") if isinstance(page, Mapping) else None
            if not isinstance(tasks, list):
                raise InvalidResponseError("tasks/list returned no tasks array")
            for task in tasks:
                yield ToolTask.from_wire(task, what="a task of tasks/list")

    async def list_tasks(self, *, timeout: float | None = None) -> list[ToolTask]:
        """Return every task the server lists (:meth:`iter_tasks`, all pages gathered)."""
        tasks = []
        async for task in self.iter_tasks(timeout=timeout):
            tasks.append(task)
        return tasks

    # -- resources ----------------------------------------------------------------------

    async def iter_resources(self, *, timeout: float | None = None) -> AsyncIterator[Resource]:
        """Yield the server's resources, fetching pages as they are needed."""
        async for page in self._pages("resources/list", ListResourcesResult, timeout):
            for resource in page.resources:
                yield resource

    async def list_resources(self, *, timeout: float | None = None) -> list[Resource]:
        """Return all of the server's resources, every page gathered."""
        resources = []
        async for resource in self.iter_resources(timeout=timeout):
            resources.append(resource)
        return resources

    async def iter_resource_templates(
        self, *, timeout: float | None = None
    ) -> AsyncIterator[ResourceTemplate]:
        """Yield the server's resource templates, fetching pages as they are needed."""
        async for page in self._pages(
            "resources/templates/list", ListResourceTemplatesResult, timeout
        ):
            for template in page.resource_templates:
                yield template

    async def list_resource_templates(
        self, *, timeout: float | None = None
    ) -> list[ResourceTemplate]:
        """Return all of the server's resource templates, every page gathered."""
        templates = []
        async for template in self.iter_resource_templates(timeout=timeout):
            templates.append(template)
        return templates

    async def read_resource(self, uri: str, *, timeout: float | None = None) -> ReadResourceResult:
        """Read a resource's contents.

        Raises:
            JSONRPCError: when the resource does not exist (code -32602 from modern
                servers, -32002 from legacy ones).
        """
        raw = await self._engine.request("resources/read", {"uri": uri}, timeout=timeout)
        return from_wire(raw, ReadResourceResult)

    async def subscribe_resource(self, uri: str, *, timeout: float | None = None) -> None:
        """Ask to be told (``on_resource_updated``) when a resource changes.

        Raises:
            CapabilityNotSupportedError: the server does not offer resource subscriptions.
        """
        await self.connect()
        caps = self.server_capabilities
        if caps is None or caps.resources is None or not caps.resources.subscribe:
            raise CapabilityNotSupportedError(f"{self.url} does not offer resource subscriptions")
        await self._engine.subscribe(uri, True, timeout)

    async def unsubscribe_resource(self, uri: str, *, timeout: float | None = None) -> None:
        """Stop updates about a resource."""
        await self._engine.subscribe(uri, False, timeout)

    # -- skills (io.modelcontextprotocol/skills) ----------------------------------------

    async def list_skills(self, *, timeout: float | None = None) -> list[Skill]:
        """The skills the server offers (``skills/list``, SEP-2640). None of their files is
        read: load one with :meth:`load_skill` when it is needed.

        Raises:
            InvalidResponseError: the listing is malformed.
        """
        from ..skills import parse_skills  # imported on first use, as few servers have skills

        return parse_skills(await self._engine.request("skills/list", None, timeout=timeout))

    async def load_skill(self, skill: Skill, *, timeout: float | None = None) -> LoadedSkill:
        """Read a skill's ``SKILL.md``, verified against the listing (size, digest and
        frontmatter) before it is returned.

        Raises:
            SkillVerificationError: the file does not match its entry; its content is not
                returned.
            InvalidResponseError: the listing has no entry to verify ``SKILL.md`` against.
        """
        from ..skills import LoadedSkill, SkillVerificationError, verify_frontmatter

        try:
            skill.file(skill.uri)
        except KeyError:
            raise InvalidResponseError(
                f"skill {skill.name!r} lists no entry for {skill.uri}: it cannot be verified"
            ) from None
        data = await self.read_skill_file(skill, skill.uri, timeout=timeout)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SkillVerificationError(
                f"skill file {skill.uri} is not UTF-8 text", uri=skill.uri, check="frontmatter"
            ) from None
        verify_frontmatter(skill, text)
        return LoadedSkill(skill=skill, text=text)

    async def read_skill_file(
        self, skill: Skill, uri: str, *, timeout: float | None = None
    ) -> bytes:
        """Read one file a skill lists, verified against its entry (size and digest).

        Raises:
            KeyError: the skill lists no such file.
            SkillVerificationError: the content does not match; it is not returned.
        """
        from ..skills import content_bytes, verify

        entry = skill.file(uri)
        raw = await self._engine.request("resources/read", {"uri": uri}, timeout=timeout)
        data = content_bytes(raw, uri)
        verify(entry, data)
        return data

    # -- prompts ------------------------------------------------------------------------

    async def iter_prompts(self, *, timeout: float | None = None) -> AsyncIterator[Prompt]:
        """Yield the server's prompts, fetching pages as they are needed."""
        async for page in self._pages("prompts/list", ListPromptsResult, timeout):
            for prompt in page.prompts:
                yield prompt

    async def list_prompts(self, *, timeout: float | None = None) -> list[Prompt]:
        """Return all of the server's prompts, every page gathered."""
        prompts = []
        async for prompt in self.iter_prompts(timeout=timeout):
            prompts.append(prompt)
        return prompts

    async def get_prompt(
        self,
        name: str,
        arguments: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> GetPromptResult:
        """Get a prompt, filled in with the given arguments."""
        params: dict[str, Any] = {"name": name}
        if arguments:
            params["arguments"] = dict(arguments)
        raw = await self._engine.request("prompts/get", params, timeout=timeout)
        return from_wire(raw, GetPromptResult)

    # -- completion ---------------------------------------------------------------------

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: str,
        value: str,
        *,
        context: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CompleteResult:
        """Ask the server for completions of one argument of a prompt or resource template.

        Args:
            ref: the prompt or resource template the argument belongs to.
            argument: the argument's name.
            value: what has been typed so far.
            context: values of arguments already filled in.
        """
        params: dict[str, Any] = {
            "ref": to_wire(ref),
            "argument": {"name": argument, "value": value},
        }
        if context:
            params["context"] = {"arguments": dict(context)}
        raw = await self._engine.request("completion/complete", params, timeout=timeout)
        return from_wire(raw, CompleteResult)

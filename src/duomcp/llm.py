"""MCP tools for LLM APIs: definitions in their formats, and their tool calls run back.

:class:`LLMTools` turns listed tools into the tool definitions of the OpenAI (Chat
Completions ``tools``, and the Responses API's flat form) and Anthropic (Messages
``tools``) APIs, as plain dicts: no LLM SDK is a dependency. The model's tool calls go
back through :meth:`LLMTools.run_openai` / :meth:`LLMTools.run_anthropic` (or their
blocking twins) to ``call_tool`` of a client or a group, and come back as the messages or
content blocks that API expects::

    tools = LLMTools(await client.list_tools())
    response = openai.chat.completions.create(model=..., messages=messages,
                                              tools=tools.openai())
    messages += await tools.run_openai(client, response.choices[0].message.tool_calls)

Names a model API refuses (those APIs take ``[A-Za-z0-9_-]{1,64}``) are mapped to names it
takes, and back. A call the model got wrong (a tool it invented, arguments that are not a
JSON object) or that the server refused (a JSON-RPC error, a failed task, a result that
breaks the tool's output schema) comes back to the model as an error result it can act
on; failures of the connection itself are raised.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from .errors import (
    InvalidRequestError,
    JSONRPCError,
    StructuredContentError,
    TaskCancelledError,
)
from .types import CallToolResult, TextContent, Tool

__all__ = ["LLMTools"]

_ALLOWED = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class _AsyncCaller(Protocol):
    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None
    ) -> CallToolResult: ...


class _Caller(Protocol):
    def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None
    ) -> CallToolResult: ...


# What a model is told instead of a result: its own mistakes, and the server's refusals.
_MODEL_ERRORS = (
    KeyError,
    ValueError,
    JSONRPCError,
    StructuredContentError,
    InvalidRequestError,
    TaskCancelledError,
)


def _llm_name(name: str, taken: set[str]) -> str:
    if _ALLOWED.match(name) and name not in taken:
        return name
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:50] or "tool"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    candidate, n = f"{safe}_{digest}", 1
    while candidate in taken:  # a listed name may already look like a mapped one
        n += 1
        candidate = f"{safe}_{digest}_{n}"
    return candidate


def _error_result(exc: Exception) -> CallToolResult:
    if isinstance(exc, KeyError):
        text = f"error: there is no tool named {exc.args[0]!r}"
    else:
        text = f"error: {exc}"
    return CallToolResult(content=(TextContent(type="text", text=text),), is_error=True)


def _text(result: CallToolResult) -> str:
    """The result as text for a model: its text blocks, else its structured content,
    else a note of what else it held."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content)
    kinds = sorted({type(block).__name__ for block in result.content})
    return f"(no text; the tool returned {', '.join(kinds)})" if kinds else ""


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"tool call arguments are not valid JSON ({exc})") from None
        except RecursionError:
            raise ValueError("tool call arguments are JSON nested too deeply") from None
    if not isinstance(raw, dict):
        raise ValueError("tool call arguments must be a JSON object")
    return raw


def _field(item: Any, name: str) -> Any:
    """A field of a tool call given as a dict or as an SDK object."""
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


class LLMTools:
    """Tools of a client or a group, shaped for LLM APIs.

    Args:
        tools: the tools, as listed (``await client.list_tools()``).
    """

    def __init__(self, tools: Sequence[Tool]) -> None:
        self.tools = list(tools)
        self._to_mcp: dict[str, str] = {}
        self._to_llm: dict[str, str] = {}
        taken: set[str] = set()
        for tool in self.tools:  # names the APIs take keep them, first come first served
            if _ALLOWED.match(tool.name) and tool.name not in taken:
                taken.add(tool.name)
                self._to_mcp[tool.name] = self._to_llm[tool.name] = tool.name
        for tool in self.tools:
            if tool.name in self._to_llm:
                continue
            name = _llm_name(tool.name, taken)
            taken.add(name)
            self._to_mcp[name] = tool.name
            self._to_llm[tool.name] = name

    def mcp_name(self, llm_name: str) -> str:
        """The MCP tool name behind a name the model used.

        Raises:
            KeyError: the model named no tool of this set.
        """
        return self._to_mcp[llm_name]

    def _schema(self, tool: Tool) -> dict[str, Any]:
        schema = dict(tool.input_schema)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        return schema

    def openai(self) -> list[dict[str, Any]]:
        """Chat Completions ``tools``: ``{"type": "function", "function": {...}}``."""
        return [
            {
                "type": "function",
                "function": {
                    "name": self._to_llm[tool.name],
                    "description": tool.description or tool.title or "",
                    "parameters": self._schema(tool),
                },
            }
            for tool in self.tools
        ]

    def openai_responses(self) -> list[dict[str, Any]]:
        """Responses API ``tools``: ``{"type": "function", "name": ..., "parameters": ...,
        "strict": False}`` (left out, ``strict`` would be taken as true: MCP schemas are
        not written for strict mode)."""
        return [
            {"type": "function", **entry["function"], "strict": False} for entry in self.openai()
        ]

    def anthropic(self) -> list[dict[str, Any]]:
        """Messages API ``tools``: ``{"name", "description", "input_schema"}``."""
        return [
            {
                "name": self._to_llm[tool.name],
                "description": tool.description or tool.title or "",
                "input_schema": self._schema(tool),
            }
            for tool in self.tools
        ]

    # -- running the model's calls ------------------------------------------------------

    def _openai_call(self, call: Any) -> tuple[str, Any, Any]:
        function = _field(call, "function")
        return str(_field(call, "id")), _field(function, "name"), _field(function, "arguments")

    def _responses_calls(self, items: Iterable[Any]) -> list[tuple[str, Any, Any]]:
        calls = [item for item in items if _field(item, "type") == "function_call"]
        return [
            (str(_field(c, "call_id")), _field(c, "name"), _field(c, "arguments")) for c in calls
        ]

    def _anthropic_uses(self, blocks: Iterable[Any]) -> list[tuple[str, Any, Any]]:
        uses = [b for b in blocks if _field(b, "type") == "tool_use"]
        return [(str(_field(b, "id")), _field(b, "name"), _field(b, "input")) for b in uses]

    def _resolve(self, name: Any, arguments: Any) -> tuple[str, dict[str, Any]]:
        """The MCP name and arguments of a model's call (``KeyError``/``ValueError`` when
        the model got them wrong)."""
        return self.mcp_name(str(name)), _arguments(arguments)

    @staticmethod
    def _openai_reply(call_id: str, result: CallToolResult) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": call_id, "content": _text(result) or "(empty)"}

    @staticmethod
    def _responses_reply(call_id: str, result: CallToolResult) -> dict[str, Any]:
        output = _text(result) or "(empty)"
        if result.is_error and not output.startswith("error"):
            output = f"error: {output}"
        return {"type": "function_call_output", "call_id": call_id, "output": output}

    @staticmethod
    def _anthropic_reply(use_id: str, result: CallToolResult) -> dict[str, Any]:
        return {
            "type": "tool_result",
            "tool_use_id": use_id,
            # the Messages API refuses empty text blocks
            "content": [{"type": "text", "text": _text(result) or "(empty)"}],
            "is_error": bool(result.is_error),
        }

    async def _run(
        self,
        target: _AsyncCaller,
        calls: list[tuple[str, Any, Any]],
        reply: Callable[[str, CallToolResult], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        out = []
        for call_id, name, arguments in calls:
            try:
                result = await target.call_tool(*self._resolve(name, arguments))
            except _MODEL_ERRORS as exc:
                result = _error_result(exc)
            out.append(reply(call_id, result))
        return out

    def _run_blocking(
        self,
        target: _Caller,
        calls: list[tuple[str, Any, Any]],
        reply: Callable[[str, CallToolResult], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        out = []
        for call_id, name, arguments in calls:
            try:
                result = target.call_tool(*self._resolve(name, arguments))
            except _MODEL_ERRORS as exc:
                result = _error_result(exc)
            out.append(reply(call_id, result))
        return out

    async def run_openai(
        self, target: _AsyncCaller, tool_calls: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """Run a Chat Completions message's ``tool_calls`` (dicts or SDK objects) with
        ``target`` (an :class:`~duomcp.AsyncClient` or a group); return the ``tool``
        messages to append."""
        calls = [self._openai_call(call) for call in tool_calls]
        return await self._run(target, calls, self._openai_reply)

    def run_openai_blocking(
        self, target: _Caller, tool_calls: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """:meth:`run_openai` with a blocking :class:`~duomcp.Client` or group."""
        calls = [self._openai_call(call) for call in tool_calls]
        return self._run_blocking(target, calls, self._openai_reply)

    async def run_openai_responses(
        self, target: _AsyncCaller, output: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """Run the ``function_call`` items of a Responses API ``output`` (dicts or SDK
        objects) with ``target``; return the ``function_call_output`` items for the next
        ``input``."""
        return await self._run(target, self._responses_calls(output), self._responses_reply)

    def run_openai_responses_blocking(
        self, target: _Caller, output: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """:meth:`run_openai_responses` with a blocking :class:`~duomcp.Client` or group."""
        return self._run_blocking(target, self._responses_calls(output), self._responses_reply)

    async def run_anthropic(
        self, target: _AsyncCaller, content: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """Run the ``tool_use`` blocks of a Messages response's ``content`` with ``target``;
        return the ``tool_result`` blocks for the next user message."""
        return await self._run(target, self._anthropic_uses(content), self._anthropic_reply)

    def run_anthropic_blocking(
        self, target: _Caller, content: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """:meth:`run_anthropic` with a blocking :class:`~duomcp.Client` or group."""
        return self._run_blocking(target, self._anthropic_uses(content), self._anthropic_reply)

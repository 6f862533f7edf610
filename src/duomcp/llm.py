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
takes, and back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

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


def _llm_name(name: str, taken: set[str]) -> str:
    if _ALLOWED.match(name) and name not in taken:
        return name
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:55] or "tool"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{safe}_{digest}"


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
        raw = json.loads(raw or "{}")
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
        for tool in self.tools:
            name = _llm_name(tool.name, set(self._to_mcp))
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
        """Responses API ``tools``: ``{"type": "function", "name": ..., "parameters": ...}``."""
        return [{"type": "function", **entry["function"]} for entry in self.openai()]

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

    def _openai_call(self, call: Any) -> tuple[str, str, dict[str, Any]]:
        function = _field(call, "function")
        return (
            str(_field(call, "id")),
            self.mcp_name(str(_field(function, "name"))),
            _arguments(_field(function, "arguments")),
        )

    @staticmethod
    def _openai_reply(call_id: str, result: CallToolResult) -> dict[str, Any]:
        text = _text(result)
        return {"role": "tool", "tool_call_id": call_id, "content": text or "(empty)"}

    def _anthropic_uses(self, blocks: Iterable[Any]) -> list[tuple[str, str, dict[str, Any]]]:
        uses = [b for b in blocks if _field(b, "type") == "tool_use"]
        return [
            (
                str(_field(b, "id")),
                self.mcp_name(str(_field(b, "name"))),
                _arguments(_field(b, "input")),
            )
            for b in uses
        ]

    @staticmethod
    def _anthropic_reply(use_id: str, result: CallToolResult) -> dict[str, Any]:
        return {
            "type": "tool_result",
            "tool_use_id": use_id,
            "content": [{"type": "text", "text": _text(result)}],
            "is_error": bool(result.is_error),
        }

    async def run_openai(
        self, target: _AsyncCaller, tool_calls: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """Run a Chat Completions message's ``tool_calls`` (dicts or SDK objects) with
        ``target`` (an :class:`~duomcp.AsyncClient` or a group); return the ``tool``
        messages to append."""
        out = []
        for call in tool_calls:
            call_id, name, arguments = self._openai_call(call)
            out.append(self._openai_reply(call_id, await target.call_tool(name, arguments)))
        return out

    def run_openai_blocking(
        self, target: _Caller, tool_calls: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """:meth:`run_openai` with a blocking :class:`~duomcp.Client` or group."""
        out = []
        for call in tool_calls:
            call_id, name, arguments = self._openai_call(call)
            out.append(self._openai_reply(call_id, target.call_tool(name, arguments)))
        return out

    async def run_anthropic(
        self, target: _AsyncCaller, content: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """Run the ``tool_use`` blocks of a Messages response's ``content`` with ``target``;
        return the ``tool_result`` blocks for the next user message."""
        out = []
        for use_id, name, arguments in self._anthropic_uses(content):
            out.append(self._anthropic_reply(use_id, await target.call_tool(name, arguments)))
        return out

    def run_anthropic_blocking(
        self, target: _Caller, content: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """:meth:`run_anthropic` with a blocking :class:`~duomcp.Client` or group."""
        out = []
        for use_id, name, arguments in self._anthropic_uses(content):
            out.append(self._anthropic_reply(use_id, target.call_tool(name, arguments)))
        return out

"""MCP tools as LLM API tool definitions, and the model's calls run back, against the
reference server (one client and a group), in both flavours. The definitions are checked
against JSON schemas of the formats the OpenAI and Anthropic APIs document for tools."""

from __future__ import annotations

import json

import jsonschema

from duomcp import AsyncClient, Client
from duomcp.group import AsyncClientGroup
from duomcp.llm import LLMTools
from duomcp.testing import ReferenceServer
from duomcp.types import Tool

_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}
_PARAMETERS = {"type": "object", "properties": {"type": {"const": "object"}}, "required": ["type"]}
OPENAI_CHAT_TOOL = {
    "type": "object",
    "required": ["type", "function"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": _NAME,
                "description": {"type": "string"},
                "parameters": _PARAMETERS,
                "strict": {"type": ["boolean", "null"]},
            },
        },
    },
}
OPENAI_RESPONSES_TOOL = {
    "type": "object",
    "required": ["type", "name", "parameters"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "function"},
        "name": _NAME,
        "description": {"type": "string"},
        "parameters": _PARAMETERS,
        "strict": {"type": ["boolean", "null"]},
    },
}
ANTHROPIC_TOOL = {
    "type": "object",
    "required": ["name", "input_schema"],
    "additionalProperties": False,
    "properties": {
        "name": _NAME,
        "description": {"type": "string"},
        "input_schema": _PARAMETERS,
    },
}


def test_definitions_follow_each_api_format() -> None:
    tools = [
        Tool(name="add", description="Add.", input_schema={"type": "object"}),
        Tool(name="files/read.v2", input_schema={"type": "object", "properties": {}}),
        Tool(name="x" * 80, input_schema={"type": "object"}),
    ]
    llm = LLMTools(tools)
    for entry in llm.openai():
        jsonschema.validate(entry, OPENAI_CHAT_TOOL)
    for entry in llm.openai_responses():
        jsonschema.validate(entry, OPENAI_RESPONSES_TOOL)
    for entry in llm.anthropic():
        jsonschema.validate(entry, ANTHROPIC_TOOL)
    names = [entry["name"] for entry in llm.anthropic()]
    assert names[0] == "add" and len(set(names)) == 3
    assert [llm.mcp_name(n) for n in names] == [t.name for t in tools]


async def test_openai_and_anthropic_round_trips(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        llm = LLMTools(await client.list_tools())
        assert {e["function"]["name"] for e in llm.openai()} >= {"echo", "add"}
        calls = [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
            },
            {
                "id": "c2",
                "type": "function",
                "function": {"name": "echo", "arguments": json.dumps({"text": "hi"})},
            },
        ]
        replies = await llm.run_openai(client, calls)
        assert replies[0]["tool_call_id"] == "c1" and replies[0]["role"] == "tool"
        assert "5" in replies[0]["content"]
        assert replies[1] == {"role": "tool", "tool_call_id": "c2", "content": "hi"}
        content = [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "u1", "name": "echo", "input": {"text": "yo"}},
            {"type": "tool_use", "id": "u2", "name": "fail", "input": {}},
        ]
        results = await llm.run_anthropic(client, content)
        assert results[0] == {
            "type": "tool_result",
            "tool_use_id": "u1",
            "content": [{"type": "text", "text": "yo"}],
            "is_error": False,
        }
        assert results[1]["tool_use_id"] == "u2" and results[1]["is_error"] is True
        # A model's mistakes, and the server's refusals, go back to the model as errors.
        wrong = [
            {"type": "tool_use", "id": "u", "name": "nope", "input": {}},
            {"type": "tool_use", "id": "v", "name": "echo", "input": "not an object"},
            {"type": "tool_use", "id": "w", "name": "bad_structured", "input": {}},
            {"type": "tool_use", "id": "x", "name": "echo", "input": "[" * 100_000},
        ]
        told = await llm.run_anthropic(client, wrong)
        assert [r["is_error"] for r in told] == [True, True, True, True]
        assert told[0]["content"][0]["text"] == "error: there is no tool named 'nope'"
        assert "not valid JSON" in told[1]["content"][0]["text"]
        assert "outputSchema" in told[2]["content"][0]["text"]
        assert "nested too deeply" in told[3]["content"][0]["text"]
        output = [
            {"type": "message", "content": []},
            {
                "type": "function_call",
                "call_id": "r1",
                "name": "echo",
                "arguments": '{"text": "re"}',
            },
            {"type": "function_call", "call_id": "r2", "name": "fail", "arguments": "{}"},
        ]
        items = await llm.run_openai_responses(client, output)
        assert items[0] == {"type": "function_call_output", "call_id": "r1", "output": "re"}
        assert items[1]["call_id"] == "r2" and items[1]["output"].startswith("error")


def test_mapped_names_never_collide_with_listed_ones() -> None:
    schema = {"type": "object"}
    tools = [Tool(name=n, input_schema=schema) for n in ("a_b_2e7336dc", "a.b", "a b", "ok")]
    llm = LLMTools(tools)
    names = [entry["name"] for entry in llm.anthropic()]
    assert len(set(names)) == 4 and names[0] == "a_b_2e7336dc" and names[3] == "ok"
    assert [llm.mcp_name(name) for name in names] == ["a_b_2e7336dc", "a.b", "a b", "ok"]


async def test_a_group_behind_the_tools(server: ReferenceServer) -> None:
    async with AsyncClientGroup({"ref": server.url}, timeout=10) as group:
        llm = LLMTools(await group.list_tools())
        calls = [{"id": "g", "function": {"name": "ref__echo", "arguments": '{"text": "grouped"}'}}]
        assert (await llm.run_openai(group, calls))[0]["content"] == "grouped"


def test_blocking_runs(server: ReferenceServer) -> None:
    with Client(server.url, timeout=10) as client:
        llm = LLMTools(client.list_tools())
        calls = [{"id": "s", "function": {"name": "echo", "arguments": '{"text": "sync"}'}}]
        assert llm.run_openai_blocking(client, calls)[0]["content"] == "sync"
        uses = [{"type": "tool_use", "id": "t", "name": "echo", "input": {"text": "b"}}]
        assert llm.run_anthropic_blocking(client, uses)[0]["content"][0]["text"] == "b"

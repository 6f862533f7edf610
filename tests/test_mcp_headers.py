"""Modern-era request metadata: the Base64 sentinel encoding, ``x-mcp-header`` rules, and the
headers the connection state builds for a message (read back as the spec defines them)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duomcp._mcp_headers import (
    ParamHeader,
    encode_header_value,
    param_header_values,
    param_headers,
)
from duomcp.connection import ConnectionState


def _decode(value: str) -> str:
    if value.startswith("=?base64?") and value.endswith("?="):
        return base64.b64decode(value[9:-2]).decode("utf-8")
    return value


# The spec's own table (basic/transports/streamable-http#value-encoding).
@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
    ],
)
def test_spec_encoding_examples(value: str, header: str) -> None:
    assert encode_header_value(value) == header


@given(st.text(max_size=60))
def test_every_value_round_trips_and_is_header_safe(value: str) -> None:
    encoded = encode_header_value(value)
    assert _decode(encoded) == value
    assert all(ch in " \t" or "\x21" <= ch <= "\x7e" for ch in encoded)
    assert encoded == encoded.strip(" \t")


def _tool(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **extra}


def test_annotations_found_along_properties_chains() -> None:
    schema = _tool(
        {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "opts": {
                "type": "object",
                "properties": {"depth": {"type": "integer", "x-mcp-header": "Depth"}},
            },
            "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
            "query": {"type": "string"},
        }
    )
    assert param_headers(schema) == (
        ParamHeader("Region", ("region",), "string"),
        ParamHeader("Depth", ("opts", "depth"), "integer"),
        ParamHeader("Dry-Run", ("dry",), "boolean"),
    )


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        (_tool({"a": {"type": "string", "x-mcp-header": ""}}), "empty"),
        (_tool({"a": {"type": "string", "x-mcp-header": "Bad Name"}}), "token"),
        (_tool({"a": {"type": "string", "x-mcp-header": "Bad\r\nX"}}), "token"),
        (_tool({"a": {"type": "string", "x-mcp-header": "Größe"}}), "token"),
        (_tool({"a": {"type": "number", "x-mcp-header": "N"}}), "type"),
        (_tool({"a": {"type": "object", "x-mcp-header": "O"}}), "type"),
        (_tool({"a": {"x-mcp-header": "Untyped"}}), "type"),
        (
            _tool(
                {
                    "a": {"type": "string", "x-mcp-header": "Same"},
                    "b": {"type": "string", "x-mcp-header": "same"},
                }
            ),
            "twice",
        ),
        (
            _tool({"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "I"}}}),
            "items",
        ),
        (_tool({}, anyOf=[_tool({"a": {"type": "string", "x-mcp-header": "A"}})]), "anyOf"),
        (_tool({}, **{"$defs": {"d": {"type": "string", "x-mcp-header": "D"}}}), "$defs"),
        (_tool({"a": {"$ref": "#/$defs/x", "x-mcp-header": "R"}}), "type"),
        (_tool({}, **{"if": {"properties": {"a": {"x-mcp-header": "C"}}}}), "if"),
    ],
)
def test_invalid_annotations_are_refused(schema: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason if reason != "$defs" else r"\$defs"):
        param_headers(schema)


def test_values_typed_encoded_and_omitted_when_absent() -> None:
    headers = param_headers(
        _tool(
            {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "n": {"type": "integer", "x-mcp-header": "N"},
                "flag": {"type": "boolean", "x-mcp-header": "Flag"},
                "nested": {
                    "type": "object",
                    "properties": {"who": {"type": "string", "x-mcp-header": "Who"}},
                },
            }
        )
    )
    assert param_header_values(headers, {"region": "日本", "n": -7, "flag": False}) == {
        "Mcp-Param-Region": "=?base64?5pel5pys?=",
        "Mcp-Param-N": "-7",
        "Mcp-Param-Flag": "false",
    }
    assert param_header_values(headers, {"region": None, "nested": {"who": "x"}}) == {
        "Mcp-Param-Who": "x"
    }
    assert param_header_values(headers, {"n": 42.0}) == {"Mcp-Param-N": "42"}
    with pytest.raises(ValueError, match="2\\*\\*53"):
        param_header_values(headers, {"n": 2**53})
    with pytest.raises(ValueError, match="integer"):
        param_header_values(headers, {"n": True})
    with pytest.raises(ValueError, match="boolean"):
        param_header_values(headers, {"flag": "yes"})


async def test_connection_state_builds_modern_headers_from_the_message() -> None:
    state = ConnectionState(endpoint="http://127.0.0.1:1/mcp", era="modern")
    state.protocol_version = "2026-07-28"
    state.tool_headers["execute_sql"] = param_headers(
        _tool({"region": {"type": "string", "x-mcp-header": "Region"}})
    )
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "execute_sql",
            "arguments": {"region": "us-west1", "query": "SELECT 1"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01"},
        },
    }
    headers = await state.headers("post", message=message)
    assert headers["Mcp-Method"] == "tools/call"
    assert headers["Mcp-Name"] == "execute_sql"
    assert headers["Mcp-Param-Region"] == "us-west1"
    # The header follows the body it travels with, so the two cannot disagree.
    assert headers["MCP-Protocol-Version"] == "2099-01-01"
    assert "Mcp-Session-Id" not in headers

    read = {"method": "resources/read", "id": 2, "params": {"uri": "file:///ü b"}}
    assert _decode((await state.headers("post", message=read))["Mcp-Name"]) == "file:///ü b"

    state.era = "legacy"
    legacy = await state.headers("post", message=message)
    assert not any(k.lower().startswith("mcp-param") or k == "Mcp-Method" for k in legacy)


def test_protocol_headers_cannot_be_given_by_the_user() -> None:
    for name in ("Mcp-Method", "mcp-name", "Mcp-Param-Region"):
        with pytest.raises(ValueError, match="set by the protocol"):
            ConnectionState(endpoint="http://x/mcp", extra_headers={name: "v"})

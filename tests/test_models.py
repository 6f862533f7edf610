"""Models and the wire converter, against the spec's own examples and schemas.

Every example of ``fixtures/spec-examples`` round-trips exactly through its model, is
fully known (nothing lands in ``extra``) and, re-assembled, validates against its
definition in the official schema. JSON-RPC envelopes (``*Request``, ``*Notification``,
``*ResultResponse``, error responses) are not models: their ``params``, ``result`` or
``error`` member is checked with the model the schema names for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
import referencing

from duomcp import _wire, types
from duomcp._wire import from_wire, to_wire
from duomcp.errors import InvalidResponseError
from duomcp.types import (
    BlobResourceContents,
    CallToolResult,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    EmbeddedResource,
    Implementation,
    InitializeResult,
    InputRequiredResult,
    ListToolsResult,
    ProgressNotificationParams,
    ReadResourceResult,
    RequestMetaObject,
    TextContent,
    TextResourceContents,
    ToolUseContent,
    UnknownContent,
    _models,
)
from duomcp.types._lazy import ensure

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = sorted((FIXTURES / "spec-examples").glob("*/*.json"))
MODELS: dict[str, Any] = {cls.__name__: cls for cls in _models.MODELS} | _models.ALIASES


@cache
def schema(version: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / "schemas" / f"{version}.json").read_text())
    return result


def validator(version: str, definition: str) -> jsonschema.protocols.Validator:
    registry = referencing.Registry().with_resource(
        f"urn:mcp:{version}", referencing.Resource.from_contents(schema(version))
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:mcp:{version}#/$defs/{definition}"}, registry=registry
    )


def exact(value: Any) -> str:
    """JSON text that tells 1 from 1.0 and True from 1, which ``==`` does not."""
    return json.dumps(value, sort_keys=True)


def unknown_fields(obj: Any, path: str = "") -> Iterator[str]:
    """Where, in a model tree, wire fields landed in ``extra``.

    The JSON-RPC framing of an embedded request (``id``) is not the model's business.
    """
    if attrs.has(type(obj)):
        framing = {"id", "jsonrpc"} if hasattr(obj, "method") and not path else set()
        unknown = sorted(obj.extra.keys() - framing)
        if unknown and not isinstance(obj, UnknownContent):
            yield f"{path or '.'}: {unknown}"
        for field in attrs.fields(type(obj)):
            if field.name != "extra":
                yield from unknown_fields(getattr(obj, field.name), f"{path}.{field.name}")
    elif isinstance(obj, tuple):
        for index, item in enumerate(obj):
            yield from unknown_fields(item, f"{path}[{index}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from unknown_fields(item, f"{path}[{key!r}]")


def member_model(definition: str, member: str, value: Any) -> str:
    """The model of an envelope's ``params``/``result``/``error``, as the schema says."""
    prop = schema("2026-07-28")["$defs"][definition]["properties"][member]
    if "anyOf" in prop:  # InputRequiredResult or the final result, as the engine decides
        refs = [option["$ref"].rsplit("/", 1)[1] for option in prop["anyOf"]]
        final = [ref for ref in refs if ref != "InputRequiredResult"]
        input_required = value.get("resultType") == "input_required"
        return "InputRequiredResult" if input_required else str(final[0])
    if "$ref" in prop:
        return str(prop["$ref"].rsplit("/", 1)[1])
    if member == "error":
        return "Error"
    if f"{definition}Params" in MODELS:
        return f"{definition}Params"
    return "NotificationParams" if definition.endswith("Notification") else "RequestParams"


def cases() -> Iterator[Any]:
    """(definition, example name, member or "", model name, wire value) per checkable part."""
    for path in EXAMPLES:
        name, data = path.parent.name, json.loads(path.read_text())
        case_id = f"{name}/{path.stem}"
        if name in MODELS:
            yield pytest.param(name, path, "", name, data, id=case_id)
            continue
        for member in ("params", "result", "error"):
            if member in data:
                model = member_model(name, member, data[member])
                yield pytest.param(name, path, member, model, data[member], id=case_id)
        error_data = data.get("error", {}).get("data")
        if isinstance(error_data, dict) and f"{name}Data" in MODELS:
            yield pytest.param(
                name, path, "error.data", f"{name}Data", error_data, id=f"{case_id}:data"
            )


CASES = list(cases())


def test_fixtures_are_complete_and_credited() -> None:
    assert len(EXAMPLES) == 129
    readme = (FIXTURES / "spec-examples" / "README.md").read_text()
    assert "modelcontextprotocol/modelcontextprotocol" in readme
    assert "b0f60ba5" in readme
    assert "Apache License" in (FIXTURES / "spec-examples" / "LICENSE").read_text()


def test_every_example_is_checked_against_a_model() -> None:
    checked = {case.values[1] for case in CASES}
    assert sorted(p.parent.name for p in EXAMPLES if p not in checked) == []


@pytest.mark.parametrize(("definition", "path", "member", "model", "wire"), CASES)
def test_example_round_trips_exactly(
    definition: str, path: Path, member: str, model: str, wire: Any
) -> None:
    obj = from_wire(wire, MODELS[model])
    assert exact(to_wire(obj)) == exact(wire)
    assert to_wire(obj) == wire


@pytest.mark.parametrize(("definition", "path", "member", "model", "wire"), CASES)
def test_example_is_fully_known_and_output_validates(
    definition: str, path: Path, member: str, model: str, wire: Any
) -> None:
    obj = from_wire(wire, MODELS[model])
    assert list(unknown_fields(obj)) == []
    document = json.loads(path.read_text())
    if member == "error.data":
        document["error"]["data"] = to_wire(obj)
    elif member:
        document[member] = to_wire(obj)
    else:
        document = to_wire(obj)
    errors = list(validator("2026-07-28", definition).iter_errors(document))
    assert not errors, [e.message for e in errors]


# 2025-11-25 has no examples folder: a few messages of that era, written from its schema.
LEGACY = [
    (
        "InitializeResult",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {
                "logging": {},
                "tools": {"listChanged": True},
                "tasks": {"list": {}, "requests": {"tools": {"call": {}}}},
            },
            "serverInfo": {"name": "s", "version": "1", "websiteUrl": "https://example.com"},
            "instructions": "be nice",
        },
    ),
    (
        "CreateTaskResult",
        {
            "task": {
                "taskId": "t1",
                "status": "working",
                "createdAt": "2025-11-25T10:00:00Z",
                "lastUpdatedAt": "2025-11-25T10:00:01Z",
                "ttl": None,
                "pollInterval": 500,
            }
        },
    ),
    (
        "ElicitRequestURLParams",
        {
            "mode": "url",
            "elicitationId": "e1",
            "url": "https://example.com/consent",
            "message": "Please sign in",
        },
    ),
    (
        "CallToolResult",
        {
            "content": [{"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}],
            "structuredContent": {"temperature": 22.5},
            "isError": False,
            "_meta": {"com.example/trace": "abc"},
        },
    ),
]


@pytest.mark.parametrize(("definition", "wire"), LEGACY, ids=[name for name, _ in LEGACY])
def test_legacy_messages_round_trip_and_validate(definition: str, wire: Any) -> None:
    obj = from_wire(wire, MODELS[definition])
    assert list(unknown_fields(obj)) == []
    assert exact(to_wire(obj)) == exact(wire)
    errors = list(validator("2025-11-25", definition).iter_errors(to_wire(obj)))
    assert not errors, [e.message for e in errors]


def test_required_null_is_kept_and_optional_none_left_out() -> None:
    result = from_wire(LEGACY[1][1], MODELS["CreateTaskResult"])
    assert result.task.ttl is None
    assert to_wire(result)["task"]["ttl"] is None
    assert "statusMessage" not in to_wire(result)["task"]


def test_unknown_content_type_is_kept_and_sent_back() -> None:
    wire = {
        "content": [
            {"type": "hologram", "frames": [1, 2], "_meta": {"x": 1}},
            {"type": "text", "text": "hi"},
        ]
    }
    result = from_wire(wire, CallToolResult)
    block = result.content[0]
    assert isinstance(block, UnknownContent)
    assert block.type == "hologram"
    assert block.extra == {"frames": [1, 2], "_meta": {"x": 1}}
    assert isinstance(result.content[1], TextContent)
    assert to_wire(result) == wire


def test_unknown_fields_are_kept_at_every_level_and_sent_back() -> None:
    wire = {
        "content": [{"type": "text", "text": "hi", "future": {"deep": [1]}}],
        "newTopLevel": True,
        "isError": False,
    }
    result = from_wire(wire, CallToolResult)
    assert result.extra == {"newTopLevel": True}
    assert result.content[0].extra == {"future": {"deep": [1]}}
    assert exact(to_wire(result)) == exact(wire)


def test_a_known_field_wins_over_the_same_name_in_extra() -> None:
    block = TextContent(text="real", extra={"text": "stale", "other": 1})
    assert to_wire(block) == {"type": "text", "text": "real", "other": 1}


@pytest.mark.parametrize(
    ("wire", "where"),
    [
        ({"content": [{"type": "text", "text": 5}]}, "content[0].text: expected a string"),
        ({"content": "nope"}, "content: expected an array"),
        ({}, "content: missing required field"),
        ({"content": [{"type": "image", "data": "AA=="}]}, "content[0].mimeType: missing"),
        ({"content": [], "isError": "yes"}, "isError: expected a boolean"),
        ({"content": [None]}, "content[0]: expected"),
        ([], "expected a CallToolResult object, got an array"),
    ],
)
def test_bad_input_is_a_typed_error_naming_class_and_wire_path(wire: Any, where: str) -> None:
    with pytest.raises(InvalidResponseError, match=r"^CallToolResult does not match") as info:
        from_wire(wire, CallToolResult)
    assert where in str(info.value)
    assert info.value.__cause__ is not None  # the cattrs detail, chained, never raised


@pytest.mark.parametrize(
    ("wire", "model"),
    [
        ({"progressToken": "t", "progress": "5"}, ProgressNotificationParams),
        ({"progressToken": True, "progress": 5}, ProgressNotificationParams),
        ({"name": 1, "version": "1"}, Implementation),
        ({"tools": {"name": "x"}}, ListToolsResult),
    ],
)
def test_types_are_checked_strictly(wire: Any, model: type) -> None:
    with pytest.raises(InvalidResponseError):
        from_wire(wire, model)


def test_several_problems_are_all_named() -> None:
    wire = {"tools": [{"name": 1, "inputSchema": {}}, {"inputSchema": []}]}
    with pytest.raises(InvalidResponseError) as info:
        from_wire(wire, ListToolsResult)
    message = str(info.value)
    assert "tools[0].name: expected a string" in message
    assert "tools[1].name: missing required field" in message
    assert "tools[1].inputSchema: expected an object" in message


def test_numbers_keep_their_json_type() -> None:
    wire = {"progressToken": 7, "progress": 1, "total": 2.5}
    params = from_wire(wire, ProgressNotificationParams)
    assert exact(to_wire(params)) == exact(wire)
    task = {**LEGACY[1][1]["task"], "pollInterval": 500.0}  # some servers write floats
    assert from_wire({"task": task}, MODELS["CreateTaskResult"]).task.poll_interval == 500


def test_elicitation_params_are_told_apart_by_mode() -> None:
    form = {"message": "m", "requestedSchema": {"type": "object", "properties": {}}}
    url = {"mode": "url", "message": "m", "url": "https://x", "elicitationId": "e"}
    assert isinstance(from_wire({"params": form}, ElicitRequest).params, ElicitRequestFormParams)
    params = from_wire({"params": {**form, "mode": "form"}}, ElicitRequest).params
    assert isinstance(params, ElicitRequestFormParams)
    assert params.mode == "form"
    assert isinstance(from_wire({"params": url}, ElicitRequest).params, ElicitRequestURLParams)
    with pytest.raises(InvalidResponseError, match="unknown mode 'telepathy'"):
        from_wire({"params": {**form, "mode": "telepathy"}}, ElicitRequest)


def test_resource_contents_are_told_apart_by_text_or_blob() -> None:
    wire = {
        "contents": [
            {"uri": "file:///a", "text": "hello"},
            {"uri": "file:///b", "blob": "AAEC", "mimeType": "application/octet-stream"},
        ]
    }
    result = from_wire(wire, ReadResourceResult)
    assert isinstance(result.contents[0], TextResourceContents)
    assert isinstance(result.contents[1], BlobResourceContents)
    assert result.contents[1].blob == "AAEC"  # base64 stays text
    embedded = from_wire({"type": "resource", "resource": wire["contents"][1]}, EmbeddedResource)
    assert isinstance(embedded.resource, BlobResourceContents)


def test_sampling_content_is_one_block_or_a_list() -> None:
    one = {"role": "assistant", "model": "m", "content": {"type": "text", "text": "hi"}}
    many = {**one, "content": [{"type": "tool_use", "id": "1", "name": "f", "input": {}}]}
    assert isinstance(from_wire(one, CreateMessageResult).content, TextContent)
    blocks = from_wire(many, CreateMessageResult).content
    assert isinstance(blocks, tuple)
    assert isinstance(blocks[0], ToolUseContent)
    assert to_wire(from_wire(many, CreateMessageResult)) == many


def test_input_requests_map_to_typed_requests() -> None:
    folder = FIXTURES / "spec-examples" / "InputRequiredResult"
    wire = json.loads(next(folder.glob("*elicitation-and-sampling*.json")).read_text())
    result = from_wire(wire, InputRequiredResult)
    assert result.input_requests is not None
    requests = result.input_requests
    assert isinstance(requests["github_login"], ElicitRequest)
    assert isinstance(requests["github_login"].params, ElicitRequestFormParams)
    assert requests["capital_of_france"].method == "sampling/createMessage"


def test_reserved_meta_keys_keep_their_prefix() -> None:
    wire = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "progressToken": 3,
    }
    meta = from_wire(wire, RequestMetaObject)
    assert meta.protocol_version == "2026-07-28"
    assert meta.progress_token == 3
    assert to_wire(meta) == wire


def test_models_are_frozen_keyword_only_snake_case() -> None:
    block = TextContent(text="x")
    assert block.type == "text"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        block.text = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        TextContent("x")  # type: ignore[misc]
    result = attrs.evolve(CallToolResult(content=(block,)), is_error=True)
    assert to_wire(result) == {"content": [{"type": "text", "text": "x"}], "isError": True}
    assert to_wire([Implementation(name="a", version="1")]) == [{"name": "a", "version": "1"}]


def test_elicit_result_content_lists_go_out_as_arrays() -> None:
    result = ElicitResult(action="accept", content={"tags": ("a", "b"), "n": 1, "ok": True})
    assert exact(to_wire(result)) == exact(
        {"action": "accept", "content": {"tags": ["a", "b"], "n": 1, "ok": True}}
    )


def test_every_public_class_has_a_docstring() -> None:
    for cls in _models.MODELS:
        assert cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("), cls


def test_initialize_result_reads_legacy_server_info() -> None:
    result = from_wire(LEGACY[0][1], InitializeResult)
    assert result.server_info.website_url == "https://example.com"
    assert result.capabilities.tasks is not None


def test_generated_models_are_up_to_date() -> None:
    pytest.importorskip("ruff")
    check = subprocess.run(
        [sys.executable, str(ROOT / "codegen" / "models.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr


def test_reading_a_model_builds_only_the_models_present() -> None:
    """A fresh process reads an InitializeResult and a text tool result: the models they
    could hold but do not (the capabilities left out, other content types) are not made
    attrs classes, and reading them later works and checks them all the same."""
    script = """
from duomcp._wire import from_wire
from duomcp.errors import InvalidResponseError
from duomcp.types import _lazy, _models as m
from duomcp.types import CallToolResult, InitializeResult
init = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {"listChanged": True}},
        "serverInfo": {"name": "x", "version": "1"}}
assert from_wire(init, InitializeResult).capabilities.tools.list_changed is True
text = {"content": [{"type": "text", "text": "t"}]}
assert from_wire(text, CallToolResult).content[0].text == "t"
left = {m.ServerCapabilitiesTasks, m.ServerCapabilitiesPrompts, m.ImageContent, m.AudioContent}
assert left <= _lazy._pending, left - _lazy._pending
init["capabilities"]["prompts"] = {"listChanged": "yes"}
try:
    from_wire(init, InitializeResult)
except InvalidResponseError as exc:
    assert "capabilities.prompts.listChanged" in str(exc), exc
else:
    raise AssertionError("a bad prompts capability was accepted")
image = {"content": [{"type": "image", "data": "AA==", "mimeType": "image/png"}]}
assert from_wire(image, CallToolResult).content[0].mime_type == "image/png"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _plain_instances() -> Iterator[Any]:
    """An instance of every model whose fields all have defaults, some with plain values
    set, and one with an unknown field kept in ``extra``."""
    for cls in _models.MODELS:
        ensure(cls)
        fields = [a for a in attrs.fields(cls) if a.name != "extra"]
        if all(a.default is not attrs.NOTHING for a in fields):
            yield cls()
    yield types.Implementation(name="me", version="1", title="Me", website_url="https://x")
    yield types.TextContent(text="hi", extra={"future": 1, "text": "stale"})
    yield types.ToolAnnotations(read_only_hint=False, title="t")


def test_a_model_of_plain_values_is_written_as_its_hook_writes_it() -> None:
    # to_wire skips making the unstructure hook for such models (start-up time); what it
    # writes must not depend on that.
    plain = 0
    for value in _plain_instances():
        written = _wire._plain_model(value, type(value))
        if written is not None:
            plain += 1
            assert written == _wire.converter.unstructure(value), type(value).__name__
    assert plain > 20
    nested = types.Tool(name="t", input_schema={"type": "object"})
    assert _wire._plain_model(nested, types.Tool) is None  # a JSON object: the hook's work

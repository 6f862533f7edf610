"""Models and the wire converter: every spec example round-trips exactly and validates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing

from duomcp import InvalidResponseError
from duomcp._wire import from_wire, to_wire
from duomcp.types import CallToolResult, TextContent, UnknownContent, _models

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = sorted((FIXTURES / "spec-examples").glob("*/*.json"))
MODELS = {cls.__name__: cls for cls in _models.MODELS}
UNIONS = _models.ALIASES


def _schema(version: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / "schemas" / f"{version}.json").read_text())
    return result


SCHEMA_2026 = _schema("2026-07-28")


def _validator(definition: str) -> jsonschema.protocols.Validator:
    resource = referencing.Resource.from_contents(SCHEMA_2026)
    registry = referencing.Registry().with_resource("urn:mcp", resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:mcp#/$defs/{definition}"}, registry=registry
    )


def test_every_example_folder_is_covered() -> None:
    assert len(EXAMPLES) > 100
    names = {path.parent.name for path in EXAMPLES}
    uncovered = sorted(n for n in names if n not in MODELS and n not in UNIONS)
    assert uncovered == [], uncovered


@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.name}/{p.stem}" for p in EXAMPLES])
def test_example_round_trips_and_validates(path: Path) -> None:
    data = json.loads(path.read_text())
    name = path.parent.name
    model = MODELS.get(name) or UNIONS[name]
    obj = from_wire(data, model)
    assert to_wire(obj) == data
    errors = sorted(_validator(name).iter_errors(to_wire(obj)), key=str)
    assert not errors, errors[0].message


def test_unknown_fields_and_content_types_are_kept() -> None:
    wire = {
        "content": [
            {"type": "text", "text": "hi", "future": 1},
            {"type": "hologram", "frames": [1, 2]},
        ],
        "newTopLevel": {"x": True},
    }
    result = from_wire(wire, CallToolResult)
    assert isinstance(result.content[0], TextContent)
    assert result.content[0].extra == {"future": 1}
    assert isinstance(result.content[1], UnknownContent)
    assert result.content[1].type == "hologram"
    assert result.extra == {"newTopLevel": {"x": True}}
    assert to_wire(result) == wire


@pytest.mark.parametrize(
    ("wire", "where"),
    [
        ({"content": [{"type": "text", "text": 5}]}, "content[0]"),
        ({"content": "nope"}, "content"),
        ({}, "missing required"),
        ({"content": [{"type": "image", "data": "AA=="}]}, "mimeType"),
    ],
)
def test_bad_input_is_a_typed_error_naming_the_field(wire: Any, where: str) -> None:
    with pytest.raises(InvalidResponseError, match=r"CallToolResult") as info:
        from_wire(wire, CallToolResult)
    assert where in str(info.value)


def test_models_are_frozen_and_snake_case() -> None:
    block = TextContent(text="x")
    assert block.type == "text"
    with pytest.raises(AttributeError):
        block.text = "y"  # type: ignore[misc]
    assert to_wire(CallToolResult(content=(block,), is_error=True)) == {
        "content": [{"type": "text", "text": "x"}],
        "isError": True,
    }

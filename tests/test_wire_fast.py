"""The fast paths of ``_wire`` build exactly what the converter builds, or decline.

Every model the fast path takes is given valid, wrong and odd JSON (wrong types, ``null``,
numbers of the other kind, missing and unknown fields, nested models); where the fast path
builds a model, the converter's hook must build the same one, value for value and type
for type; where the converter refuses the value, the fast path must decline it. A program
whose messages all take the fast path never imports cattrs: checked in a fresh process
against the reference server of each era.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duomcp import _wire
from duomcp._converter import converter
from duomcp.testing import ReferenceServer
from duomcp.types import _models

FAST = sorted(
    (cls for cls in _models.MODELS if _wire._fast_model(cls) is not None),
    key=lambda cls: cls.__name__,
)
SHAPES = [*FAST, *_wire._FAST_PATHS]  # and the hand-written ones (text tool results)
ODD = st.sampled_from([None, True, False, 0, 1, -3, 2.0, 2.5, "", "x", [], [1], {}, {"a": 1}])


def _value(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    """Mostly a valid JSON value for a field of type ``tp``, sometimes any odd one."""
    return st.one_of(_valid(tp, depth), ODD) if depth < 3 else ODD


def _valid(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    if tp is str:
        return st.text(max_size=5)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-5, 5)
    if tp is float:
        return st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False))
    if tp is Any:
        return ODD
    args = typing.get_args(tp)
    if _wire._is_literal(tp):
        return st.sampled_from(args)
    if _wire._is_mapping(tp):
        return st.dictionaries(st.text(max_size=3), _value(args[1], depth + 1), max_size=3)
    if _wire._is_tuple(tp):
        return st.lists(_value(args[0], depth + 1), max_size=3)
    if _wire._is_union(tp):
        return st.one_of(*(_valid(arg, depth) for arg in args))
    if tp is type(None):
        return st.none()
    if tp in _wire._MODELS:
        return _object(tp, depth + 1)
    raise AssertionError(f"no strategy for {tp}")


def _object(cls: type, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    fields = _wire._data_fields(cls)
    members = {_wire.wire_name(cls, f.name): _value(f.type, depth) for f in fields if depth < 4}
    needed = {_wire.wire_name(cls, f.name) for f in fields if f.default is attrs.NOTHING}
    required = {k: v for k, v in members.items() if k in needed}
    optional = {k: v for k, v in members.items() if k not in required}
    base = st.fixed_dictionaries(required, optional=optional)
    unknown = st.dictionaries(st.sampled_from(["zz", "other", "_x"]), ODD, max_size=2)
    dropped = st.sets(st.sampled_from(sorted(members) or ["-"]), max_size=1)
    return st.builds(
        lambda obj, more, drop: {k: v for k, v in {**obj, **more}.items() if k not in drop},
        base,
        unknown,
        st.one_of(st.just(set()), dropped),
    )


def _typed(value: Any) -> Any:
    """``value`` with every member's type written out (``1``, ``1.0`` and ``True`` differ)."""
    if attrs.has(type(value)):
        return (
            type(value).__name__,
            [(a.name, _typed(getattr(value, a.name))) for a in attrs.fields(type(value))],
        )
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def test_the_fast_path_takes_the_handshake_models() -> None:
    names = {cls.__name__ for cls in FAST}
    assert {"InitializeResult", "ServerCapabilities", "Implementation", "Icon"} <= names
    # a field that is a union of several types: the converter's way
    assert _wire._fast_model(_models.CallToolResult) is None
    initialize = {
        "protocolVersion": "2025-11-25",
        "capabilities": {"tools": {"listChanged": True}, "logging": {}, "experimental": {}},
        "serverInfo": {"name": "s", "version": "1", "icons": [{"src": "i.png"}]},
        "instructions": "hi",
        "vendor": {"x": 1},
    }
    modern_text = {
        "content": [{"type": "text", "text": "hi"}],
        "resultType": "complete",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "1"}},
    }
    for cls, wire in (
        (_models.InitializeResult, initialize),
        (_models.CallToolResult, modern_text),
    ):
        fast = _wire._fast_path(cls)
        assert fast is not None
        built = fast(wire)
        assert built is not None, cls
        assert _typed(built) == _typed(converter.get_structure_hook(cls)(wire, cls))


@pytest.mark.parametrize("cls", SHAPES, ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_builds_what_the_converter_builds(cls: type, data: st.DataObject) -> None:
    wire = data.draw(_object(cls, 0))
    fast = _wire._fast_path(cls)
    assert fast is not None
    built = fast(json.loads(json.dumps(wire)))
    try:
        expected = converter.get_structure_hook(cls)(json.loads(json.dumps(wire)), cls)
    except Exception:
        assert built is None, f"the converter refuses {wire!r}, the fast path took it"
        return
    if built is not None:
        assert _typed(built) == _typed(expected)
        assert json.dumps(_wire.to_wire(built)) == json.dumps(_wire.to_wire(expected))


def _cattrs_modules_after_a_call(url: str) -> str:
    code = (
        "import asyncio, sys\n"
        "from duomcp import AsyncClient\n"
        "async def main():\n"
        "    async with AsyncClient(sys.argv[1], timeout=10) as client:\n"
        "        result = await client.call_tool('echo', {'text': 'hi'})\n"
        "        assert result.content[0].text == 'hi'\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cattrs'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_a_legacy_handshake_and_a_text_result_do_not_import_cattrs(
    server: ReferenceServer,
) -> None:
    assert _cattrs_modules_after_a_call(server.url) == "[]"


def test_a_modern_discovery_and_a_text_result_do_not_import_cattrs(
    modern_server: ReferenceServer,
) -> None:
    assert _cattrs_modules_after_a_call(modern_server.url) == "[]"

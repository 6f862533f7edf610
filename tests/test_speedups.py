"""The ``speedups`` extra: messages parsed by msgspec give what the json module gives.

Every other test runs without it (conftest's ``_json_parser``), as the default install
does; these run with it, and check that it was used.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duomcp import AsyncClient, Client, StdioServer, _jsonrpc
from duomcp.errors import InvalidResponseError
from duomcp.testing import ReferenceServer, ServerFaults
from duomcp.types import TextContent

pytestmark = pytest.mark.speedups

PEER = Path(__file__).with_name("stdio_peer.py")

# A file's contents: escapes (quotes, tabs, newlines, control characters), accents and
# characters beyond the BMP; 300 KB, more than a 256 KiB read.
BIG_TEXT = ('line "one"\tcolumn é\n\\ \x01 😀 ' * 12_000)[:300_000]
BIG_INT = 2**70


@pytest.fixture
def fast_calls() -> Iterator[list[int]]:
    """How many messages msgspec parsed (the fast path taken, not only installed)."""
    decode = _jsonrpc._fast_loads
    assert decode is not None
    calls: list[int] = []

    def counted(raw: bytes | str) -> Any:
        parsed = decode(raw)
        calls.append(len(raw))  # parsed by msgspec, not refused
        return parsed

    _jsonrpc._fast_loads = counted
    yield calls


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def both(raw: bytes | str) -> tuple[Any, Any]:
    """What loads_messages gives (or raises) with msgspec, then with the json module."""
    outcomes = []
    fast = _jsonrpc._fast_loads
    for parser in (fast, None):
        _jsonrpc._fast_loads = parser
        try:
            outcomes.append(("ok", repr(_jsonrpc.loads_messages(raw, source="reply"))))
        except InvalidResponseError as exc:
            outcomes.append(("error", str(exc)))
        finally:
            _jsonrpc._fast_loads = fast
    return outcomes[0], outcomes[1]


# JSON values of every kind: integers past 64 bits, floats of any bit pattern that JSON
# can hold, strings with control characters, escapes and astral characters.
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_values, ascii_only=st.booleans())
def test_msgspec_gives_what_the_json_module_gives(value: Any, ascii_only: bool) -> None:
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "result": value}, ensure_ascii=ascii_only)
    raw = text.encode("utf-8", "surrogatepass")
    fast, plain = both(raw)
    assert fast == plain
    assert both(text)[0] == plain  # an SSE event's data is text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":1,"result":NaN}',  # the json module takes these; msgspec refuses them
        b'{"id":1,"result":[Infinity,-Infinity]}',
        b'{"id":1,"result":1e400}',
        b'{"id":1,"result":"\\ud800"}',  # an escaped lone surrogate
        b'\xef\xbb\xbf{"id":1,"result":2}',  # a byte order mark
        b'{"id":1,"result":' + b"9" * 40 + b"}",
        b'{"id":1,"result":"\xff"}',  # not UTF-8: an error either way
        b'{"id":1,"result":',  # cut short
        b'[{"id":1,"result":1},{"id":2,"result":2}]',  # a batch
        b"[1, 2]",  # not objects
        b'"text"',
        b"",
    ],
)
def test_what_msgspec_refuses_the_json_module_decides(raw: bytes) -> None:
    fast, plain = both(raw)
    assert fast == plain


def test_a_deep_nesting_is_an_invalid_reply_either_way() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    fast, plain = both(raw)
    assert fast == plain == ("error", "reply is JSON nested too deeply to parse")


def test_a_message_msgspec_takes_never_reaches_the_json_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(raw: bytes | str) -> Any:
        raise AssertionError("parsed by the json module")

    monkeypatch.setattr(_jsonrpc, "_json_loads", refuse)
    raw = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": BIG_TEXT}}).encode()
    [message] = _jsonrpc.loads_messages(raw, source="reply")
    assert message["result"]["text"] == BIG_TEXT
    [message] = _jsonrpc.loads_messages(raw.decode(), source="reply")  # SSE data: text
    assert message["result"]["text"] == BIG_TEXT


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_big_texts_and_big_integers_over_http(
    server: ReferenceServer, faults: ServerFaults, reply_mode: Any, fast_calls: list[int]
) -> None:
    faults.reply_mode = reply_mode
    async with AsyncClient(server.url, timeout=10) as client:
        result = await client.call_tool("echo", {"text": BIG_TEXT})
        assert text_of(result) == BIG_TEXT
        added = await client.call_tool("add", {"a": BIG_INT, "b": 1})
        assert added.structured_content == {"result": BIG_INT + 1}  # an int, exactly
        floats = await client.call_tool("add", {"a": 0.1, "b": 0.2})
        assert floats.structured_content == {"result": 0.1 + 0.2}
    assert max(fast_calls, default=0) > len(BIG_TEXT)  # the big reply went through msgspec


def test_the_blocking_client_too(server: ReferenceServer, fast_calls: list[int]) -> None:
    with Client(server.url, timeout=10) as client:
        assert text_of(client.call_tool("echo", {"text": BIG_TEXT})) == BIG_TEXT
        added = client.call_tool("add", {"a": -BIG_INT, "b": -1})
        assert added.structured_content == {"result": -BIG_INT - 1}
    assert max(fast_calls, default=0) > len(BIG_TEXT)


async def test_big_texts_over_stdio(tmp_path: Path, fast_calls: list[int]) -> None:
    server = StdioServer(
        command=sys.executable,
        args=(str(PEER), "--log", str(tmp_path / "log"), "--mode", "normal"),
        stderr=subprocess.DEVNULL,
    )
    async with AsyncClient(server, timeout=20) as client:
        assert text_of(await client.call_tool("echo", {"text": BIG_TEXT})) == BIG_TEXT
    assert max(fast_calls, default=0) > len(BIG_TEXT)


def test_found_by_itself_in_a_fresh_process() -> None:
    # (In this process conftest chooses the parser; a program finds msgspec on its own.)
    code = (
        "from duomcp import _jsonrpc\n"
        "[m] = _jsonrpc.loads_messages(b'{\"id\": 1, \"result\": 2}', source='x')\n"
        "print(m['result'], type(_jsonrpc._fast_loads).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "builtin_function_or_method"]


def test_other_bytes_like_go_to_the_json_module() -> None:
    # msgspec would take a bytearray or a memoryview; the json module decides, as without.
    raw = b'{"id": 1, "result": 2}'
    fast, plain = both(bytearray(raw))  # type: ignore[arg-type]
    assert fast == plain
    for parser in (_jsonrpc._fast_loads, None):  # the json module refuses a memoryview
        _jsonrpc._fast_loads = parser
        with pytest.raises(TypeError, match="memoryview"):
            _jsonrpc.loads_messages(memoryview(raw), source="reply")  # type: ignore[arg-type]


def test_not_imported_with_duomcp() -> None:
    # msgspec is imported with the first message parsed, not by `import duomcp`.
    code = "import sys, duomcp; print('msgspec' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_floats_keep_every_bit() -> None:
    for value in (5e-324, 1.7976931348623157e308, 0.1, -0.0, 2.5e-310, 123456.789e-20):
        raw = json.dumps({"id": 1, "result": value}).encode()
        [message] = _jsonrpc.loads_messages(raw, source="reply")
        assert math.copysign(1.0, message["result"]) == math.copysign(1.0, value)
        assert message["result"] == value

"""JSON-RPC 2.0 framing: building outgoing messages and classifying incoming ones."""

from __future__ import annotations

import json
import json.decoder
import json.encoder
import json.scanner
from typing import Any, Literal, cast

from .errors import InvalidResponseError

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "METHOD_NOT_FOUND",
    "Kind",
    "classify",
    "dumps",
    "error_response",
    "loads_messages",
    "notification",
    "request",
    "response",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

Kind = Literal["request", "notification", "response", "error"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_dumps = _ENCODER.encode
# What _ENCODER.encode runs for a dict, without its Python layers (encode, iterencode):
# the C encoder with the same options (a fresh dict to catch circular references).
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_default = _ENCODER.default
_encode_string: Any = json.encoder.encode_basestring


def dumps(message: Any) -> bytes:
    """Serialize one message compactly as UTF-8 (no newlines, so stdio can use it too)."""
    if _make_encoder is None:
        return _dumps(message).encode()
    chunks = _make_encoder({}, _default, _encode_string, None, ":", ",", False, False, False)
    return "".join(chunks(message, 0)).encode()


def _check_encoder() -> None:
    """Use the C encoder directly only where it gives what ``_dumps`` gives."""
    global _make_encoder
    sample = {"jsonrpc": "2.0", "id": 1, "params": {"a": [1.5, True, None, "\u00e9\n"]}}
    try:
        same = _make_encoder is not None and dumps(sample) == _dumps(sample).encode()
    except Exception:
        same = False
    if not same:
        _make_encoder = None


_check_encoder()

# What json.loads runs for a text that starts with ``{`` or ``[`` (no leading whitespace),
# without its Python layers (loads, decode, raw_decode): the scanner under them.
_scan: Any = cast(Any, json.scanner).make_scanner(json.JSONDecoder())
_WHITESPACE: Any = cast(Any, json.decoder).WHITESPACE.match


def _parse(text: str) -> Any:
    try:
        value, end = _scan(text, 0)
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None
    if end != len(text):
        end = _WHITESPACE(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return value


def request(request_id: str | int, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Build a request message."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build a notification message (no id, never answered)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def response(request_id: str | int, result: Any) -> dict[str, Any]:
    """Build a success response to a server request."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(
    request_id: str | int | None, code: int, message: str, data: Any = None
) -> dict[str, Any]:
    """Build an error response to a server request."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


# msgspec's JSON decoder, where the ``speedups`` extra installed msgspec (imported with the
# first message, not with duomcp), else None. Python 3.11: a 256 KiB text with escapes (a
# file's contents) 550 -> 310 us, a small message 2.4 -> 0.4 us.
_UNSET: Any = object()
_fast_loads: Any = _UNSET


def _find_fast_loads() -> Any:
    global _fast_loads
    try:
        import msgspec.json
    except ImportError:
        loads = None
    else:
        loads = msgspec.json.Decoder().decode
    _fast_loads = loads
    return loads


def _json_loads(raw: bytes | str) -> Any:
    """``json.loads(raw)``, without its Python layers for the common case."""
    if type(raw) is bytes and raw.startswith((b"{", b"[")):
        # UTF-8 with no BOM (every MCP message in practice): decoded here, json.loads
        # skips guessing the encoding. A bad byte raises a ValueError all the same.
        raw = raw.decode()
    if type(raw) is str and raw.startswith(("{", "[")):
        return _parse(raw)
    return json.loads(raw)


def loads_messages(raw: bytes | str, *, source: str) -> list[dict[str, Any]]:
    """Parse a JSON body or SSE data field into messages; a batch (array) yields several.

    With msgspec installed (the ``speedups`` extra), msgspec parses, into the same values
    as the json module; what it refuses goes to the json module, which decides (it takes
    NaN, Infinity, numbers too big for a float, escaped lone surrogates and a BOM, which
    msgspec refuses). So the result is the json module's, but for nesting about as deep
    as the recursion limit, where either may give up first.

    Raises:
        InvalidResponseError: the text is not JSON, or nested too deeply to parse, or not
            a JSON-RPC object or array of them.
    """
    fast = _fast_loads
    if fast is _UNSET:
        fast = _find_fast_loads()
    try:
        if fast is None or (type(raw) is not bytes and type(raw) is not str):
            parsed = _json_loads(raw)
        else:
            try:
                parsed = fast(raw)
            except ValueError:  # (msgspec.DecodeError): the json module decides
                parsed = _json_loads(raw)
    except ValueError as exc:
        raise InvalidResponseError(f"{source} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise InvalidResponseError(f"{source} is JSON nested too deeply to parse") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    for item in items:
        if not isinstance(item, dict):
            raise InvalidResponseError(
                f"{source} holds a non-object JSON-RPC message: {item!r:.200}"
            )
    return items


def classify(message: dict[str, Any]) -> Kind:
    """Tell what a parsed message is.

    Raises:
        InvalidResponseError: it is none of request, notification, response, error.
    """
    request_id = message.get("id", 0)
    if (
        type(request_id) is not int
        and type(request_id) is not str
        and not _valid_id(request_id, "method" not in message)
    ):
        raise InvalidResponseError(f"message has an invalid id: {message!r:.200}")
    if "method" in message:
        if not isinstance(message["method"], str):
            raise InvalidResponseError(f"message has a non-string method: {message!r:.200}")
        return "request" if "id" in message else "notification"
    if "result" in message and "id" in message:
        return "response"
    if isinstance(message.get("error"), dict):
        return "error"
    raise InvalidResponseError(f"not a JSON-RPC 2.0 message: {message!r:.200}")


def _valid_id(value: Any, reply: bool) -> bool:
    """A JSON-RPC id is a string or an integer; an error reply's may be null."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (str, int)) or (reply and value is None)

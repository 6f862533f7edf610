"""JSON-RPC 2.0 framing: building outgoing messages and classifying incoming ones."""

from __future__ import annotations

import json
from typing import Any, Literal

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

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(message: Any) -> bytes:
    """Serialize one message compactly as UTF-8 (no newlines, so stdio can use it too)."""
    return _dumps(message).encode()


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


def loads_messages(raw: bytes | str, *, source: str) -> list[dict[str, Any]]:
    """Parse a JSON body or SSE data field into messages; a batch (array) yields several.

    Raises:
        InvalidResponseError: the text is not JSON, or not a JSON-RPC object or array of them.
    """
    try:
        if type(raw) is bytes and raw.startswith((b"{", b"[")):
            # UTF-8 with no BOM (every MCP message in practice): decoded here, json.loads
            # skips guessing the encoding. A bad byte raises a ValueError all the same.
            raw = raw.decode()
        parsed = json.loads(raw)
    except ValueError as exc:
        raise InvalidResponseError(f"{source} is not valid JSON: {exc}") from exc
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
    if "id" in message and not _valid_id(message["id"], "method" not in message):
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

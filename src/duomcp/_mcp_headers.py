"""Request metadata headers of the modern era (2026-07-28): value encoding and the
``x-mcp-header`` annotations of tool parameters.

Only :class:`~duomcp.connection.ConnectionState` turns these into HTTP headers; this module
holds the rules: which values go out as they are, which as the Base64 sentinel, and which
tool definitions are invalid and must not be offered to the user.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["ParamHeader", "encode_header_value", "param_header_values", "param_headers"]

_SENTINEL_PREFIX = "=?base64?"
_SENTINEL_SUFFIX = "?="
# RFC 9110 tchar: the characters a header field name may be made of.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MAX_SAFE_INTEGER = 2**53 - 1
# Keywords a path to an annotated property must not go through.
_FORBIDDEN_KEYWORDS = (
    "items",
    "prefixItems",
    "additionalItems",
    "contains",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$defs",
    "definitions",
    "additionalProperties",
    "patternProperties",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
)


def _plain(value: str) -> bool:
    if not value or value != value.strip(" \t"):
        return False
    if value.startswith(_SENTINEL_PREFIX) and value.endswith(_SENTINEL_SUFFIX):
        return False
    return all(ch == " " or ch == "\t" or "\x21" <= ch <= "\x7e" for ch in value)


def encode_header_value(value: str) -> str:
    """A header value as the spec wants it: as it is when it is plain visible ASCII,
    otherwise (non-ASCII, control characters, surrounding whitespace, or a value that looks
    like the sentinel itself) as ``=?base64?<Base64 of UTF-8>?=``."""
    if _plain(value):
        return value
    encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
    return f"{_SENTINEL_PREFIX}{encoded}{_SENTINEL_SUFFIX}"


@attrs.frozen
class ParamHeader:
    """One tool parameter mirrored into an ``Mcp-Param-{name}`` header."""

    name: str
    """The name part of the header, as the tool declares it."""
    path: tuple[str, ...]
    """The chain of ``properties`` keys from the arguments object to the value."""
    type: str
    """``"string"``, ``"integer"`` or ``"boolean"``."""


def _walk(
    schema: Mapping[str, Any], path: tuple[str, ...], found: list[ParamHeader], where: str
) -> None:
    """Collect annotations reachable by ``properties`` chains; refuse any elsewhere."""
    for keyword in _FORBIDDEN_KEYWORDS:
        sub = schema.get(keyword)
        if sub is not None and _mentions_header(sub):
            raise ValueError(f"x-mcp-header under {where}/{keyword} is not reachable")
    properties = schema.get("properties")
    if properties is None:
        return
    if not isinstance(properties, Mapping):
        raise ValueError(f"{where}/properties is not an object")
    for key, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        sub_path = (*path, str(key))
        sub_where = f"{where}/properties/{key}"
        if "x-mcp-header" in sub:
            found.append(_annotation(sub, sub_path, sub_where))
        _walk(sub, sub_path, found, sub_where)


def _annotation(schema: Mapping[str, Any], path: tuple[str, ...], where: str) -> ParamHeader:
    name = schema["x-mcp-header"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"x-mcp-header at {where} is empty or not a string")
    if not all(ch in _TCHAR for ch in name):
        raise ValueError(f"x-mcp-header {name!r} at {where} is not an HTTP token")
    kind = schema.get("type")
    if kind not in ("string", "integer", "boolean"):
        raise ValueError(
            f"x-mcp-header {name!r} at {where} is on a parameter of type {kind!r}; "
            "only string, integer and boolean are allowed"
        )
    return ParamHeader(name, path, kind)


def _mentions_header(node: Any) -> bool:
    if isinstance(node, Mapping):
        return "x-mcp-header" in node or any(_mentions_header(v) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_header(v) for v in node)
    return False


def param_headers(input_schema: Mapping[str, Any]) -> tuple[ParamHeader, ...]:
    """The ``x-mcp-header`` annotations of a tool's ``inputSchema``.

    Raises:
        ValueError: an annotation breaks the spec's rules (empty, not a token, on a
            non-primitive or ``number`` parameter, unreachable through ``properties``
            alone, or a case-insensitive duplicate); the tool must not be offered.
    """
    found: list[ParamHeader] = []
    _walk(input_schema, (), found, "inputSchema")
    seen: dict[str, str] = {}
    for header in found:
        folded = header.name.lower()
        if folded in seen:
            raise ValueError(f"x-mcp-header {header.name!r} is declared twice (ignoring case)")
        seen[folded] = header.name
    return tuple(found)


def param_header_values(
    headers: tuple[ParamHeader, ...], arguments: Mapping[str, Any]
) -> dict[str, str]:
    """The ``Mcp-Param-*`` headers of one call: one per annotated value present.

    Raises:
        ValueError: a value does not have its declared type, or an integer is beyond the
            range JavaScript represents exactly.
    """
    out: dict[str, str] = {}
    for header in headers:
        value: Any = arguments
        for key in header.path:
            value = value.get(key) if isinstance(value, Mapping) else None
            if value is None:
                break
        if value is None:
            continue
        if header.type == "boolean":
            if not isinstance(value, bool):
                raise ValueError(f"argument for header {header.name!r} must be a boolean")
            text = "true" if value else "false"
        elif header.type == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"argument for header {header.name!r} must be an integer")
            if abs(value) > _MAX_SAFE_INTEGER:
                raise ValueError(
                    f"argument for header {header.name!r} is beyond +-(2**53 - 1): {value}"
                )
            text = str(value)
        else:
            if not isinstance(value, str):
                raise ValueError(f"argument for header {header.name!r} must be a string")
            text = value
        out[f"Mcp-Param-{header.name}"] = encode_header_value(text)
    return out

"""What the reference server offers in the modern era (protocol 2026-07-28) on top of the
legacy fixtures: ``x-mcp-header`` tools (valid and broken ones), multi round-trip (MRTR)
tools, a prompt and resources that need input, and the :class:`ModernContext` they run in.

Nothing here knows HTTP. Everything modern-only is absent from legacy listings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._fixtures import ELICIT_SCHEMA, FLOOD_COUNT, TOOLS, Tool
from ._session import LEVELS, CallContext, ProtocolFault, Session, ToolFailure
from ._streams import EventStream

__all__ = [
    "LEGACY_ONLY_TOOLS",
    "MODERN_PROMPTS",
    "MODERN_RESOURCES",
    "MODERN_TOOLS",
    "REQUIRED_CAPABILITIES",
    "ModernContext",
    "StateSigner",
    "decode_header_value",
    "header_params",
    "invalid_x_mcp_header",
    "modern_tools",
    "render_header_value",
]

LEGACY_ONLY_TOOLS = frozenset({"sample", "elicit", "elicit_url", "roots", "flood", "ping_client"})
"""Legacy tools that need server-to-client requests: not offered in the modern era (the
modern ``flood`` asks by MRTR instead)."""

_SENTINEL = re.compile(r"^=\?base64\?(?P<payload>.*)\?=$")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_PATH_KEYS = frozenset({"items", "oneOf", "anyOf", "allOf", "not", "if", "then", "else"})


# -- headers --------------------------------------------------------------------------------


def decode_header_value(value: str | None) -> str | None:
    """A header value with the ``=?base64?...?=`` sentinel decoded; None if malformed."""
    if value is None:
        return None
    match = _SENTINEL.match(value)
    if match is None:
        return value
    payload = match.group("payload")
    try:
        raw = base64.b64decode(payload, validate=True)
        if base64.b64encode(raw).decode("ascii") != payload:
            return None
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def render_header_value(value: Any) -> str | None:
    """An argument as an ``Mcp-Param-*`` value (before encoding); None for other types."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def header_params(schema: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """``(property path, header name)`` for every ``x-mcp-header`` reached via properties."""
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        properties = node.get("properties")
        if not isinstance(properties, dict):
            return
        for key, child in properties.items():
            if not isinstance(child, dict):
                continue
            name = child.get("x-mcp-header")
            if isinstance(name, str):
                found.append(((*path, key), name))
            walk(child, (*path, key))

    walk(schema, ())
    return found


def _positions(node: Any, via_properties: bool) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every schema object under ``node``, and whether only ``properties`` lead to it."""
    if isinstance(node, dict):
        yield node, via_properties
        for key, child in node.items():
            if key == "properties" and isinstance(child, dict):
                for sub in child.values():
                    yield from _positions(sub, via_properties)
            elif key in _BAD_PATH_KEYS or key in ("$defs", "definitions", "additionalProperties"):
                yield from _positions(child, False)
    elif isinstance(node, list):
        for child in node:
            yield from _positions(child, False)


def invalid_x_mcp_header(schema: Mapping[str, Any]) -> str | None:
    """Why ``schema``'s ``x-mcp-header`` annotations break the rules; None when they don't."""
    seen: set[str] = set()
    for node, reachable in _positions(dict(schema), True):
        if "x-mcp-header" not in node:
            continue
        name = node["x-mcp-header"]
        if not reachable:
            return "x-mcp-header is only allowed on a path of properties"
        if not isinstance(name, str) or not name:
            return "x-mcp-header must be a non-empty string"
        if not _TOKEN.match(name):
            return f"x-mcp-header {name!r} is not an HTTP token"
        if name.lower() in seen:
            return f"x-mcp-header {name!r} is used twice (case-insensitively)"
        seen.add(name.lower())
        if node.get("type") not in ("string", "integer", "boolean"):
            return f"x-mcp-header {name!r} must annotate a string, integer or boolean"
    return None


# -- requestState ---------------------------------------------------------------------------


class StateSigner:
    """Makes ``requestState`` opaque to clients and tamper-evident (HMAC-SHA256)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, payload: Mapping[str, Any]) -> str:
        """``payload`` as an opaque token."""
        body = base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def verify(self, token: Any) -> dict[str, Any] | None:
        """The payload of a token this signer made; None for anything else."""
        if not isinstance(token, str):
            return None
        body, _, mac = token.rpartition(".")
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not body or not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, binascii.Error):
            return None
        return payload if isinstance(payload, dict) else None


# -- the context ----------------------------------------------------------------------------


class ModernContext(CallContext):
    """A modern request's context: logs only at/above the request's ``logLevel``, has no
    server-to-client requests (MRTR instead), and sends change notifications to listeners.
    """

    def __init__(
        self,
        session: Session,
        stream: EventStream | None,
        params: dict[str, Any],
        *,
        log_level: str | None,
        state: dict[str, Any] | None,
        signer: StateSigner,
        binding: tuple[str, str],
        announce: Callable[[str, dict[str, Any] | None], None],
    ) -> None:
        super().__init__(session, stream, params)
        self.log_level = log_level
        """The request's ``io.modelcontextprotocol/logLevel``; None: send no log messages."""
        self.state = state
        """The verified ``requestState`` payload of a retry, or None."""
        responses = params.get("inputResponses")
        self.input_responses: dict[str, Any] = responses if isinstance(responses, dict) else {}
        """The retry's ``inputResponses``."""
        self._signer = signer
        self._binding = binding
        self._announce = announce

    async def log(self, level: str, data: Any, logger: str = "reference") -> None:
        """Send a log message only when the request asked for this level or a lower one."""
        if self.log_level is None or LEVELS.index(level) < LEVELS.index(self.log_level):
            return
        await self.notify("notifications/message", {"level": level, "logger": logger, "data": data})

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Modern servers send no requests: always fails."""
        raise ToolFailure(f"no server-to-client requests in protocol version {self.version}")

    def notify_get_stream(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a change notification to the matching ``subscriptions/listen`` streams."""
        self._announce(method, params)

    def answer(self, key: str) -> dict[str, Any] | None:
        """The client's answer to input request ``key`` (only on a retry with state)."""
        value = self.input_responses.get(key)
        return value if self.state is not None and isinstance(value, dict) else None

    def input_required(self, requests: dict[str, Any], **state: Any) -> dict[str, Any]:
        """An ``input_required`` result asking ``requests``, carrying signed ``state``."""
        kind, name = self._binding
        token = self._signer.sign({**state, "kind": kind, "name": name})
        return {"resultType": "input_required", "inputRequests": requests, "requestState": token}


def _modern(ctx: CallContext) -> ModernContext:
    if not isinstance(ctx, ModernContext):
        raise ToolFailure("this tool exists only in the modern era")
    return ctx


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def _elicit_request(message: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {"mode": "form", "message": message, "requestedSchema": schema or ELICIT_SCHEMA}
    return {"method": "elicitation/create", "params": params}


def _elicit_text(answer: dict[str, Any]) -> str:
    return json.dumps({k: answer[k] for k in ("action", "content") if k in answer}, sort_keys=True)


# -- tools ----------------------------------------------------------------------------------


async def _echo_args(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _text(json.dumps(args, sort_keys=True))


async def _mrtr_elicit(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    modern = _modern(ctx)
    answer = modern.answer("form")
    if answer is None:
        message = args.get("message", "Tell me about yourself")
        return modern.input_required({"form": _elicit_request(message)}, round=1)
    return _text(_elicit_text(answer))


async def _mrtr_sample(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    modern = _modern(ctx)
    answer = modern.answer("sample")
    if answer is None:
        prompt = {"role": "user", "content": {"type": "text", "text": args.get("prompt", "Hi")}}
        params = {"messages": [prompt], "maxTokens": 100}
        return modern.input_required(
            {"sample": {"method": "sampling/createMessage", "params": params}}, round=1
        )
    content = answer.get("content")
    blocks = content if isinstance(content, list) else [content]
    texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
    if not texts:
        raise ToolFailure("the client's sampling result has no text")
    return _text("".join(texts))


async def _mrtr_roots(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    modern = _modern(ctx)
    answer = modern.answer("roots")
    if answer is None:
        return modern.input_required({"roots": {"method": "roots/list", "params": {}}}, round=1)
    return _text(json.dumps({"roots": answer.get("roots", [])}, sort_keys=True))


async def _mrtr_rounds(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    modern = _modern(ctx)
    rounds: int = args["rounds"]
    done = 0
    if modern.state is not None:
        asked = modern.state.get("round")
        if isinstance(asked, int) and modern.answer(f"round{asked}") is not None:
            done = asked
    if done >= rounds:
        return _text(f"completed {rounds} rounds")
    ask = done + 1
    request = _elicit_request(f"Round {ask} of {rounds}")
    return modern.input_required({f"round{ask}": request}, round=ask)


async def _mrtr_flood(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    modern = _modern(ctx)
    count: int = args.get("count", 10)
    keys = [f"r{index}" for index in range(count)]
    if all(modern.answer(key) is not None for key in keys):  # count 0: nothing to ask
        return _text(f"{count} answered")
    asks = {key: {"method": "roots/list", "params": {}} for key in keys}
    return modern.input_required(asks, round=1)


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}

MODERN_TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "route",
            "Echo the arguments; region, priority and dry_run are mirrored in Mcp-Param headers.",
            _echo_args,
            {
                "region": {**_STR, "x-mcp-header": "Region"},
                "priority": {**_INT, "x-mcp-header": "Priority"},
                "dry_run": {**_BOOL, "x-mcp-header": "Dry-Run"},
                "note": _STR,
            },
        ),
        Tool(
            "bad_header_empty",
            "Broken x-mcp-header: empty name.",
            _echo_args,
            {"a": {**_STR, "x-mcp-header": ""}},
        ),
        Tool(
            "bad_header_chars",
            "Broken x-mcp-header: not an HTTP token.",
            _echo_args,
            {"a": {**_STR, "x-mcp-header": "Bad Name"}},
        ),
        Tool(
            "bad_header_duplicate",
            "Broken x-mcp-header: the same name twice, case-insensitively.",
            _echo_args,
            {"a": {**_STR, "x-mcp-header": "Dup"}, "b": {**_STR, "x-mcp-header": "dup"}},
        ),
        Tool(
            "bad_header_number",
            "Broken x-mcp-header: on a number.",
            _echo_args,
            {"a": {"type": "number", "x-mcp-header": "Amount"}},
        ),
        Tool(
            "bad_header_items",
            "Broken x-mcp-header: nested under items.",
            _echo_args,
            {"a": {"type": "array", "items": {**_STR, "x-mcp-header": "Item"}}},
        ),
        Tool(
            "mrtr_elicit",
            "Ask the user a form (MRTR elicitation), then return the answer as text.",
            _mrtr_elicit,
            {"message": _STR},
        ),
        Tool(
            "mrtr_sample",
            "Ask the client's model (MRTR sampling), then return its text.",
            _mrtr_sample,
            {"prompt": _STR},
        ),
        Tool("mrtr_roots", "Ask the client's roots (MRTR), then return them.", _mrtr_roots),
        Tool(
            "mrtr_rounds",
            "Ask one elicitation per round for `rounds` rounds, then complete.",
            _mrtr_rounds,
            {"rounds": {"type": "integer", "minimum": 0, "maximum": 1000}},
            ("rounds",),
        ),
        Tool(
            "flood",
            "Ask the client for its roots `count` times at once (one MRTR round), then report.",
            _mrtr_flood,
            {"count": FLOOD_COUNT},
        ),
    )
}
"""Tools only the modern era lists (after the legacy ones); its ``flood`` stands in for the
legacy one."""

_FORM: dict[str, Any] = {"elicitation": {"form": {}}}
REQUIRED_CAPABILITIES: dict[tuple[str, str], dict[str, Any]] = {
    ("tool", "mrtr_elicit"): _FORM,
    ("tool", "mrtr_rounds"): _FORM,
    ("tool", "mrtr_sample"): {"sampling": {}},
    ("tool", "mrtr_roots"): {"roots": {}},
    ("tool", "flood"): {"roots": {}},
    ("prompt", "mrtr_prompt"): _FORM,
    ("resource", "ref://mrtr"): _FORM,
}
"""The client capabilities a request needs, by ``(kind, name or uri)``."""


def modern_tools() -> dict[str, Tool]:
    """Every tool of the modern era, in listing order."""
    tools = {name: tool for name, tool in TOOLS.items() if name not in LEGACY_ONLY_TOOLS}
    return {**tools, **MODERN_TOOLS}


def lacks(declared: Mapping[str, Any], needed: Mapping[str, Any]) -> bool:
    """Whether the declared client capabilities miss one of ``needed``."""
    for name in needed:
        value = declared.get(name)
        if not isinstance(value, dict):
            return True
        if name == "elicitation" and value and "form" not in value:  # {} means form
            return True
    return False


# -- resources and prompts ------------------------------------------------------------------

MODERN_RESOURCES: dict[str, dict[str, Any]] = {
    "ref://whoami": {
        "name": "whoami",
        "description": "Who the bearer token says you are (cacheScope private).",
        "mimeType": "text/plain",
    },
    "ref://mrtr": {
        "name": "mrtr",
        "description": "A resource that asks for a confirmation first (MRTR).",
        "mimeType": "text/plain",
    },
}
"""Resources only the modern era lists."""

MODERN_PROMPTS: dict[str, dict[str, Any]] = {
    "mrtr_prompt": {"description": "A prompt that asks the user for a topic first (MRTR)."},
}
"""Prompts only the modern era lists."""

_TOPIC = {"type": "object", "properties": {"topic": _STR}, "required": ["topic"]}
_CONFIRM = {"type": "object", "properties": {"confirm": _BOOL}, "required": ["confirm"]}


def whoami(authorization: str | None) -> dict[str, Any]:
    """The ``ref://whoami`` contents: the bearer token, or ``anonymous``."""
    scheme, _, token = (authorization or "").partition(" ")
    who = f"bearer {token.strip()}" if scheme.lower() == "bearer" and token.strip() else "anonymous"
    return {"contents": [{"uri": "ref://whoami", "mimeType": "text/plain", "text": who}]}


def read_mrtr_resource(ctx: ModernContext) -> dict[str, Any]:
    """``ref://mrtr``: asks for a confirmation, then reports it."""
    answer = ctx.answer("confirm")
    if answer is None:
        return ctx.input_required({"confirm": _elicit_request("Read ref://mrtr?", _CONFIRM)})
    text = f"confirmation: {_elicit_text(answer)}"
    return {"contents": [{"uri": "ref://mrtr", "mimeType": "text/plain", "text": text}]}


def get_mrtr_prompt(ctx: ModernContext) -> dict[str, Any]:
    """``mrtr_prompt``: asks for a topic, then writes about it."""
    answer = ctx.answer("topic")
    if answer is None:
        return ctx.input_required({"topic": _elicit_request("Which topic?", _TOPIC)})
    content = answer.get("content")
    topic = content.get("topic") if isinstance(content, dict) else None
    text = f"Write about {topic}." if answer.get("action") == "accept" else "No topic given."
    return {
        "description": MODERN_PROMPTS["mrtr_prompt"]["description"],
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
    }


def not_found(uri: str) -> ProtocolFault:
    """The modern not-found error for a resource (-32602)."""
    return ProtocolFault(-32602, "Resource not found", {"uri": uri})

"""Generate ``src/duomcp/types/`` (``_models.py``, ``__init__.py``) from the MCP schemas.

    python codegen/models.py           # write the module
    python codegen/models.py --check   # exit 1 if the committed module is stale

The models cover the 2025-11-25 schema plus what 2026-07-28 adds: new definitions, and
new fields as optional members (a field is required only when both versions require it;
a field whose type changed becomes ``Any``). Every object becomes a frozen, keyword-only
attrs class with snake_case attributes and an ``extra`` mapping; the wire rules
(camelCase, ``_meta``, unknown fields, unions) live in ``duomcp._wire``, not here.

Left out on purpose: JSON-RPC envelopes (``*Request``, ``*Notification``,
``*ResultResponse``, ``JSONRPC*``, the error responses), since framing is
``duomcp._jsonrpc``'s job, except the three requests a 2026-07-28 result embeds as input
requests. What envelopes define inline does become classes (``GetTaskRequestParams``,
``UnsupportedProtocolVersionErrorData``...). Scalar aliases (``Cursor``, ``Role``,
``LoggingLevel``...) become plain ``str``/``int`` fields; ``EmptyResult`` is ``Result``.

The models in ``DISPLAY`` inherit a mixin of ``duomcp.types._display`` (``str``, IPython
and notebook display, ``.text`` on results); base64 fields get a short ``repr``.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "fixtures" / "schemas"  # the official files, see README.md there
PACKAGE = ROOT / "src" / "duomcp" / "types"
BASE, NEWER = "2025-11-25", "2026-07-28"

PRIMITIVE = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
JSON_VALUE = {"JSONValue", "JSONArray"}  # -> Any
JSON_OBJECT = {"JSONObject", "MetaObject"}  # -> Mapping[str, Any]
# Unions of every result: a caller always knows which result it expects.
SKIP = {"ClientResult", "ServerResult", "EmptyResult"}
OPEN_UNIONS = {"ContentBlock", "SamplingMessageContentBlock"}  # unknown `type` kept
# JSON Schemas stay plain mappings: every keyword must survive untouched.
RAW = {
    ("Tool", "inputSchema"),
    ("Tool", "outputSchema"),
    ("ElicitRequestFormParams", "requestedSchema"),
}
# Shapes defined inline in the schema, with a friendlier name than Parent+Field.
INLINE_NAMES = {
    ("CompleteResult", "completion"): "Completion",
    ("CompleteRequestParams", "argument"): "CompletionArgument",
    ("CompleteRequestParams", "context"): "CompletionContext",
    ("TitledSingleSelectEnumSchema", "oneOf"): "TitledEnumOption",
    ("TitledMultiSelectEnumSchemaItems", "anyOf"): "TitledEnumOption",
}
# Models that show themselves readably (str, IPython, notebook HTML): each inherits
# ``<Name>Display`` from ``duomcp.types._display``; the fields stay here.
DISPLAY = {
    "AudioContent",
    "BlobResourceContents",
    "CallToolResult",
    "EmbeddedResource",
    "GetPromptResult",
    "ImageContent",
    "Prompt",
    "ReadResourceResult",
    "Resource",
    "ResourceLink",
    "ResourceTemplate",
    "TextContent",
    "TextResourceContents",
    "Tool",
}
# Base64 fields: their repr shows the first characters and the size, not megabytes.
SHORT_REPR = {("AudioContent", "data"), ("BlobResourceContents", "blob"), ("ImageContent", "data")}
# Names under the reserved `io.modelcontextprotocol/` prefix; the converter adds it back.
META_PREFIX = "io.modelcontextprotocol/"

DOCS = {
    "Annotations": "Hints for the client on how to use or show an object.",
    "AudioContent": "Audio passed to or from a model, base64-encoded.",
    "BaseMetadata": "A name for programs and an optional title for people.",
    "BlobResourceContents": "Binary resource contents, base64-encoded.",
    "BooleanSchema": "An elicitation form field holding a yes/no answer.",
    "CacheableResult": "A result the client may cache for ``ttl_ms`` milliseconds.",
    "CallToolRequestParams": "Parameters of ``tools/call``: which tool, with what arguments.",
    "CallToolResult": "What a tool call returned: content blocks and optional structured data.",
    "CancelTaskRequestParams": "Parameters of ``tasks/cancel``.",
    "CancelTaskResult": "The task as it stands after ``tasks/cancel``.",
    "CancelledNotificationParams": "Parameters of ``notifications/cancelled``.",
    "ClientCapabilities": "The optional features a client declares it supports.",
    "ClientCapabilitiesElicitation": "Which elicitation modes the client supports.",
    "ClientCapabilitiesRoots": "The client's support for roots.",
    "ClientCapabilitiesSampling": "The client's support for sampling, with its options.",
    "ClientCapabilitiesTasks": "Task-augmented requests the client accepts (2025-11-25).",
    "ClientCapabilitiesTasksRequests": "Client requests that may run as tasks.",
    "ClientCapabilitiesTasksRequestsElicitation": "Elicitation requests that may run as tasks.",
    "ClientCapabilitiesTasksRequestsSampling": "Sampling requests that may run as tasks.",
    "CompleteRequestParams": "Parameters of ``completion/complete``.",
    "CompleteResult": "Completion suggestions for a prompt or resource-template argument.",
    "Completion": "The suggested values of a ``completion/complete`` result.",
    "CompletionArgument": "The argument being completed and its partial value.",
    "CompletionContext": "Arguments already filled in, to narrow completion suggestions.",
    "CreateMessageRequest": "A server's request to sample from the client's model.",
    "CreateMessageRequestParams": "Parameters of ``sampling/createMessage``.",
    "CreateMessageResult": "The client's answer to a sampling request.",
    "CreateTaskResult": "The reply to a task-augmented request: the task that was started.",
    "DiscoverResult": "A server's supported versions and capabilities (2026-07-28).",
    "ElicitRequest": "A server's request for information from the user.",
    "ElicitRequestFormParams": "An elicitation asking the user to fill in a form.",
    "ElicitRequestURLParams": "An elicitation sending the user to a URL.",
    "ElicitResult": "The user's answer to an elicitation: the action taken and the form data.",
    "ElicitationCompleteNotificationParams": "Parameters of a URL elicitation's completion.",
    "EmbeddedResource": "A resource's contents embedded in a message.",
    "Error": "The error object of a JSON-RPC error response.",
    "GetPromptRequestParams": "Parameters of ``prompts/get``.",
    "GetPromptResult": "A prompt rendered into messages.",
    "GetTaskPayloadRequestParams": "Parameters of ``tasks/result``.",
    "GetTaskPayloadResult": "The result of the request a task ran.",
    "GetTaskRequestParams": "Parameters of ``tasks/get``.",
    "GetTaskResult": "A task's current state.",
    "Icon": "An image a client may show for a server, tool, prompt or resource.",
    "Icons": "The icons of an object.",
    "ImageContent": "An image passed to or from a model, base64-encoded.",
    "Implementation": "The name and version of an MCP client or server.",
    "InitializeRequestParams": "Parameters of ``initialize`` (2025-11-25 and earlier).",
    "InitializeResult": "The server's reply to ``initialize``: version, capabilities, identity.",
    "InputRequiredResult": "A result asking the client for input before the server goes on.",
    "InputResponseRequestParams": "Parameters carrying the client's answers to input requests.",
    "InternalError": "The JSON-RPC error for a failure inside the receiver.",
    "InvalidParamsError": "The JSON-RPC error for a request with invalid parameters.",
    "InvalidRequestError": "The JSON-RPC error for a message that is not a valid request.",
    "LegacyTitledEnumSchema": "A single-choice field with ``enumNames`` labels (deprecated).",
    "ListPromptsResult": "One page of a server's prompts.",
    "ListResourceTemplatesResult": "One page of a server's resource templates.",
    "ListResourcesResult": "One page of a server's resources.",
    "ListRootsRequest": "A server's request for the client's roots.",
    "ListRootsRequestParams": "Parameters of ``roots/list``.",
    "ListRootsResult": "The client's roots.",
    "ListTasksResult": "One page of tasks.",
    "ListToolsResult": "One page of a server's tools.",
    "LoggingMessageNotificationParams": "A log entry sent by the server.",
    "MethodNotFoundError": "The JSON-RPC error for a method the receiver does not offer.",
    "MissingRequiredClientCapabilityErrorData": "The client capabilities a request needs.",
    "ModelHint": "A model name, or part of one, the server would like used.",
    "ModelPreferences": "The server's wishes for model choice in sampling.",
    "NotificationMetaObject": "Reserved ``_meta`` keys of a notification (2026-07-28).",
    "NotificationParams": "Parameters of a notification that carries nothing but ``_meta``.",
    "NumberSchema": "An elicitation form field holding a number or an integer.",
    "PaginatedRequestParams": "Parameters of a list request: the cursor of the page wanted.",
    "PaginatedResult": "A result page, with the cursor of the next one if any.",
    "ParseError": "The JSON-RPC error for a message that is not valid JSON.",
    "ProgressNotificationParams": "Progress of a long-running request.",
    "Prompt": "A prompt or prompt template a server offers.",
    "PromptArgument": "An argument a prompt template accepts.",
    "PromptMessage": "One message of a rendered prompt.",
    "PromptReference": "Names a prompt, in a completion request.",
    "ReadResourceRequestParams": "Parameters of ``resources/read``.",
    "ReadResourceResult": "The contents of a resource.",
    "RelatedTaskMetadata": "Ties a message to the task it belongs to.",
    "RequestMetaObject": "Reserved ``_meta`` keys of a request (2026-07-28).",
    "RequestParams": "Parameters of a request that carries nothing but ``_meta``.",
    "Resource": "A resource a server can read.",
    "ResourceContents": "What every resource contents object has: its URI and MIME type.",
    "ResourceLink": "A link to a resource, returned by a tool or a prompt.",
    "ResourceRequestParams": "Parameters of a request about one resource.",
    "ResourceTemplate": "A URI template naming a family of resources.",
    "ResourceTemplateReference": "Names a resource template, in a completion request.",
    "ResourceUpdatedNotificationParams": "Names a subscribed resource that changed.",
    "Result": "A result with nothing but ``_meta``, such as the reply to ``ping``.",
    "ResultMetaObject": "Reserved ``_meta`` keys of a result (2026-07-28).",
    "Root": "A directory or file the client lets servers work in.",
    "SamplingMessage": "One message of a sampling conversation.",
    "ServerCapabilities": "The optional features a server declares it offers.",
    "ServerCapabilitiesPrompts": "The server's support for prompts.",
    "ServerCapabilitiesResources": "The server's support for resources.",
    "ServerCapabilitiesTasks": "Task-augmented requests the server accepts (2025-11-25).",
    "ServerCapabilitiesTasksRequests": "Server requests that may run as tasks.",
    "ServerCapabilitiesTasksRequestsTools": "Tool requests that may run as tasks.",
    "ServerCapabilitiesTools": "The server's support for tools.",
    "SetLevelRequestParams": "Parameters of ``logging/setLevel``.",
    "StringSchema": "An elicitation form field holding text.",
    "SubscribeRequestParams": "Parameters of ``resources/subscribe``.",
    "SubscriptionFilter": "Which change notifications a listen request wants (2026-07-28).",
    "SubscriptionsAcknowledgedNotificationParams": "The server's answer to a listen request.",
    "SubscriptionsListenRequestParams": "Parameters of ``subscriptions/listen`` (2026-07-28).",
    "SubscriptionsListenResult": "The end of a ``subscriptions/listen`` stream.",
    "SubscriptionsListenResultMetaObject": "Reserved ``_meta`` keys ending a listen stream.",
    "Task": "A long-running request the receiver runs in the background (2025-11-25).",
    "TaskAugmentedRequestParams": "Parameters of a request that may run as a task.",
    "TaskMetadata": "Asks for a request to run as a task.",
    "TaskStatusNotificationParams": "A task's new state.",
    "TextContent": "Text passed to or from a model.",
    "TextResourceContents": "Text resource contents.",
    "TitledEnumOption": "One choice of a titled enum field: its value and its label.",
    "TitledMultiSelectEnumSchema": "An elicitation form field choosing several labelled values.",
    "TitledMultiSelectEnumSchemaItems": "The labelled choices of a multi-select field.",
    "TitledSingleSelectEnumSchema": "An elicitation form field choosing one labelled value.",
    "Tool": "A tool a server offers: its name, input schema and hints.",
    "ToolAnnotations": "Hints about a tool's behaviour; not to be trusted blindly.",
    "ToolChoice": "How the model may use tools while sampling.",
    "ToolExecution": "How a tool can be run (2025-11-25).",
    "ToolResultContent": "The result of a tool use, sent back to the model in sampling.",
    "ToolUseContent": "A model's request to use a tool, in sampling.",
    "URLElicitationRequiredErrorData": "The URL elicitations a request waits for (2025-11-25).",
    "UnsubscribeRequestParams": "Parameters of ``resources/unsubscribe``.",
    "UnsupportedProtocolVersionErrorData": "The versions in an unsupported-version error.",
    "UntitledMultiSelectEnumSchema": "An elicitation form field choosing several plain values.",
    "UntitledMultiSelectEnumSchemaItems": "The plain choices of a multi-select field.",
    "UntitledSingleSelectEnumSchema": "An elicitation form field choosing one plain value.",
}
ALIAS_DOCS = {
    "ContentBlock": "A content block of a tool result, prompt or resource link.",
    "SamplingMessageContentBlock": "A content block of a sampling message.",
    "ElicitRequestParams": "Parameters of an elicitation, by ``mode`` (absent means form).",
    "EnumSchema": "An elicitation form field choosing among values.",
    "SingleSelectEnumSchema": "An elicitation form field choosing one value.",
    "MultiSelectEnumSchema": "An elicitation form field choosing several values.",
    "PrimitiveSchemaDefinition": "Any field of an elicitation form.",
    "InputRequest": "A request a 2026-07-28 server embeds in an input-required result.",
    "InputResponse": "The client's answer to one input request.",
    "InputRequests": "Input requests by the key the answer must carry.",
    "InputResponses": "Answers to input requests, by the request's key.",
}


def snake(wire: str) -> str:
    """``mimeType`` -> ``mime_type``; ``_meta`` -> ``meta``; drops the reserved prefix."""
    if wire == "_meta":
        return "meta"
    assert wire not in ("meta", "extra"), f"{wire!r} would clash with a model attribute"
    name = wire.removeprefix(META_PREFIX)
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    assert name.isidentifier() and not keyword.iskeyword(name), wire
    return name


def camel(attr: str) -> str:
    """The converter's rule, repeated here to prove every name survives the round trip."""
    head, *rest = attr.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(wire: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake(wire).split("_"))


def strip(schema: Any) -> Any:
    """A schema without its prose, to compare versions."""
    if isinstance(schema, dict):
        return {k: strip(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [strip(v) for v in schema]
    return schema


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """One schema admitting both versions: union of fields, required only if both say so.

    A field whose schema changed otherwise keeps both versions under ``x-versions``.
    """
    if "properties" not in old or "properties" not in new:
        return new if strip(old) == strip(new) else {**new, "x-versions": (old, new)}
    props = dict(old["properties"])
    for key, schema in new["properties"].items():
        props[key] = merge(props[key], schema) if key in props else schema
    required = [r for r in old.get("required", []) if r in new.get("required", [])]
    return {**new, "properties": props, "required": required}


def is_envelope(schema: dict[str, Any]) -> bool:
    props = schema.get("properties", {})
    return "jsonrpc" in props or "method" in props


def load() -> dict[str, Any]:
    base = json.loads((SCHEMAS / f"{BASE}.json").read_text())["$defs"]
    newer = json.loads((SCHEMAS / f"{NEWER}.json").read_text())["$defs"]
    merged = {**base, **newer}
    for name in base.keys() & newer.keys():
        if is_envelope(newer[name]):
            continue  # the newest shape only: 2026-07-28 embeds some requests in results
        merged[name] = merge(base[name], newer[name])
    return merged


class Generator:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.classes: dict[str, dict[str, Any]] = {}  # name -> {properties, required}
        self.unions: dict[str, list[str]] = {}
        self.maps: dict[str, str] = {}
        embedded = set(self.union_members(defs["InputRequest"]) or ())
        for name, schema in sorted(defs.items()):
            if is_envelope(schema):
                if name in embedded:
                    props = {k: v for k, v in schema["properties"].items() if k != "jsonrpc"}
                    self.add_class(name, {**schema, "properties": props})
                else:
                    self.add_inline_parts(name, schema)
                continue
            flat = self.flatten(schema)
            if flat is not None and not is_envelope(flat):
                self.add_class(name, flat)
        for name, schema in sorted(defs.items()):
            members = self.union_members(schema)
            if members and all(m in self.classes for m in members) and name not in SKIP:
                self.unions[name] = members
            additional = schema.get("additionalProperties")
            if schema.get("type") == "object" and isinstance(additional, dict) and additional:
                if "properties" not in schema and name not in JSON_OBJECT:
                    self.maps[name] = self.type_of(additional, name, "*")

    # -- schema reading --------------------------------------------------------------

    def flatten(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """The object a definition describes, with ``allOf`` parts merged; else None."""
        if "allOf" in schema:
            props: dict[str, Any] = {}
            required: list[str] = []
            for part in schema["allOf"]:
                sub = self.flatten(self.deref(part)) or {}
                props.update(sub.get("properties", {}))
                required += sub.get("required", [])
            return {"properties": props, "required": required}
        if schema.get("type") == "object" and schema.get("properties"):
            return schema
        return None

    def deref(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return self.defs[schema["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
        return schema

    def union_members(self, schema: dict[str, Any]) -> list[str] | None:
        options = schema.get("anyOf") or schema.get("oneOf")
        if not options or not all("$ref" in o for o in options):
            return None
        return [o["$ref"].rsplit("/", 1)[1] for o in options]

    def add_class(self, name: str, schema: dict[str, Any]) -> None:
        if name in self.classes:
            return
        info: dict[str, Any] = {"properties": {}, "required": schema.get("required", [])}
        self.classes[name] = info  # registered first: inline shapes may recurse
        for wire, prop in schema["properties"].items():
            assert camel(snake(wire)) == wire.removeprefix(META_PREFIX) or wire == "_meta"
            info["properties"][wire] = self.field_type(prop, name, wire)

    def add_inline_parts(self, envelope: str, schema: dict[str, Any]) -> None:
        """Classes for what an envelope defines inline: its params, its error's data."""
        params = schema.get("properties", {}).get("params", {})
        if set(params.get("properties", {})) - {"_meta"}:
            self.add_class(envelope + "Params", params)
        for part in schema.get("properties", {}).get("error", {}).get("allOf", []):
            data = part.get("properties", {}).get("data", {})
            if data.get("properties"):
                self.add_class(envelope + "Data", data)

    def field_type(self, schema: dict[str, Any], owner: str, wire: str) -> str:
        if wire == "_meta" or (owner, wire) in RAW:
            return "Mapping[str, Any]"
        versions = schema.get("x-versions")
        if versions and len({self.type_of(s, owner, wire) for s in versions}) > 1:
            return "Any"  # the type changed between versions: accept both
        return self.type_of(schema, owner, wire)

    def type_of(self, schema: dict[str, Any], owner: str, wire: str) -> str:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[1]
            if ref in JSON_VALUE:
                return "Any"
            if ref in JSON_OBJECT:
                return "Mapping[str, Any]"
            target = self.defs[ref]
            if self.union_members(target) or self.flatten(target):
                return ref
            if target.get("type") == "object" and isinstance(
                target.get("additionalProperties"), dict
            ):
                return ref  # a map alias, registered after the classes
            return self.type_of(target, owner, wire)
        if "const" in schema:
            return f"Literal[{schema['const']!r}]"
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            refs = {o["$ref"].rsplit("/", 1)[1] for o in options if "$ref" in o}
            for alias in OPEN_UNIONS:
                if refs and refs == set(self.union_members(self.defs[alias]) or ()):
                    rest = [o for o in options if "$ref" not in o]
                    options = [{"$ref": f"#/$defs/{alias}"}, *rest]
            parts = [self.type_of(o, owner, wire) for o in options]
            return "Any" if "Any" in parts else " | ".join(dict.fromkeys(parts))
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join("None" if k == "null" else PRIMITIVE[k] for k in kind)
        if kind in PRIMITIVE:
            return PRIMITIVE[kind]
        if kind == "array":
            return f"tuple[{self.type_of(schema.get('items', {}), owner, wire)}, ...]"
        if kind == "object":
            if schema.get("properties"):
                name = INLINE_NAMES.get((owner, wire), owner + pascal(wire))
                self.add_class(name, schema)
                return name
            additional = schema.get("additionalProperties")
            if isinstance(additional, dict) and additional:
                return f"Mapping[str, {self.type_of(additional, owner, wire)}]"
            return "Mapping[str, Any]"
        return "Any"

    # -- rendering -------------------------------------------------------------------

    def aliases(self) -> list[str]:
        return [*self.unions, *self.maps]  # unions first: the maps refer to them

    def render(self) -> str:
        assert not DISPLAY - self.classes.keys() and {c for c, _ in SHORT_REPR} <= DISPLAY
        missing = sorted(self.classes.keys() - DOCS.keys())
        missing += sorted(set(self.aliases()) - ALIAS_DOCS.keys())
        if missing:
            raise SystemExit(f"codegen/models.py: write docstrings for {missing}")
        names = sorted(["UnknownContent", *self.classes, *self.aliases()])
        out = [
            '"""The MCP schema as attrs models (2025-11-25, plus what 2026-07-28 adds).',
            "",
            "Generated by codegen/models.py from the official schemas; do not edit by hand.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from collections.abc import Mapping",
            "from typing import Any, Literal, TypeAlias",
            "",
            "import attrs",
            "",
            "from ._display import (",
            *[f"    {n}Display," for n in sorted(DISPLAY)],
            "    short_base64,",
            ")",
            "from ._lazy import model",
            "",
            "__all__ = [",
            *[f"    {n!r}," for n in names],
            "]",
            "",
            "",
            "@model",
            "class UnknownContent:",
            '    """A content block of a type this version of duomcp does not know.',
            "",
            "    Its fields are kept in ``extra`` and sent back unchanged.",
            '    """',
            "",
            "    type: str",
            "    extra: Mapping[str, Any] = attrs.field(factory=dict)",
        ]
        for name in sorted(self.classes):
            out += ["", "", *self.render_class(name)]
        out += ["", ""]
        for name in self.aliases():
            if name in self.unions:
                members = self.unions[name] + (["UnknownContent"] if name in OPEN_UNIONS else [])
                out.append(f"{name}: TypeAlias = {' | '.join(members)}")
            else:
                out.append(f"{name}: TypeAlias = Mapping[str, {self.maps[name]}]")
            out += [f'"""{ALIAS_DOCS[name]}"""', ""]
        out += [
            "",
            "MODELS: tuple[type, ...] = (",
            *[f"    {n}," for n in ["UnknownContent", *sorted(self.classes)]],
            ")",
            '"""Every model class."""',
            "",
            "ALIASES: dict[str, Any] = {",
            *[f"    {n!r}: {n}," for n in self.aliases()],
            "}",
            '"""Every union and map alias, by schema name."""',
            "",
        ]
        return "\n".join(out)

    def render_class(self, name: str) -> list[str]:
        info = self.classes[name]
        required = set(info["required"])
        base = f"({name}Display)" if name in DISPLAY else ""
        lines = ["@model", f"class {name}{base}:", f'    """{DOCS[name]}"""']
        lines.append("")
        if name in DISPLAY:
            # IPython takes, class by class along the MRO, a `_repr_pretty_` or else a
            # `__repr__` defined there: attrs' `__repr__` here would hide the mixin's.
            lines += [f"    _repr_pretty_ = {name}Display._repr_pretty_", ""]
        consts, plain, optional, meta = [], [], [], []
        for wire, typ in info["properties"].items():
            attr = snake(wire)
            if wire == "_meta":
                meta.append(f"    meta: {typ} | None = None")
            elif wire in required and typ.startswith("Literal["):
                consts.append(f"    {attr}: {typ} = {typ[len('Literal[') : -1]}")
            elif (name, wire) in SHORT_REPR:
                assert wire in required and typ == "str", (name, wire)
                plain.append(f"    {attr}: {typ} = attrs.field(repr=short_base64)")
            elif wire in required:
                plain.append(f"    {attr}: {typ}")
            else:
                opt = typ if typ == "Any" or typ.endswith("| None") else f"{typ} | None"
                optional.append(f"    {attr}: {opt} = None")
        lines += [*consts, *plain, *optional, *meta]
        lines.append("    extra: Mapping[str, Any] = attrs.field(factory=dict)")
        return lines


def render_init(names: list[str]) -> str:
    return "\n".join(
        [
            '"""Models of the MCP schema: frozen attrs classes with snake_case attributes.',
            "",
            "Wire field ``mimeType`` is attribute ``mime_type``, ``_meta`` is ``meta``; fields a",
            "model does not know are kept in ``extra`` and sent back out unchanged; content",
            "blocks of unknown types become :class:`UnknownContent`. The models know nothing",
            "of JSON: ``duomcp._wire`` holds every wire rule.",
            "",
            "Generated by codegen/models.py; do not edit by hand.",
            '"""',
            "",
            "from ._models import (",
            *[f"    {n}," for n in names],
            ")",
            "",
            "__all__ = [",
            *[f"    {n!r}," for n in names],
            "]",
            "",
        ]
    )


def generate() -> dict[Path, str]:
    """The text of each generated file, formatted."""
    generator = Generator(load())
    names = sorted(["UnknownContent", *generator.classes, *generator.aliases()])
    texts = {"_models.py": generator.render(), "__init__.py": render_init(names)}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ruff = [sys.executable, "-m", "ruff"]
        config = ["--config", str(ROOT / "pyproject.toml")]
        for name, text in texts.items():
            path = Path(tmp) / name
            path.write_text(text)
            subprocess.run([*ruff, "check", "--fix-only", "-q", *config, str(path)], check=True)
            subprocess.run([*ruff, "format", "-q", *config, str(path)], check=True)
            out[PACKAGE / name] = path.read_text()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate the MCP models.")
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args()
    files = generate()
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run codegen/models.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

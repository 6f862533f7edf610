"""duomcp.llm checked against what the API vendors publish: the request types of the official
``openai`` and ``anthropic`` SDKs (TypedDicts generated from the vendors' OpenAPI specs) and
their response models (pydantic), for every tool of the reference server in both eras (task
tools included) and for hand-built edge tools and results.

Every definition and every tool result is checked twice. pydantic's ``TypeAdapter`` checks
the types, but it ignores keys a TypedDict does not declare and checks ``Iterable`` fields
lazily (that is: not at all unless someone consumes them), so :func:`problems` also walks the
TypedDict annotations itself: every key we emit is declared, every Required key is there,
every value has the declared type, elements of Iterables included. The model's side goes the
other way: SDK objects (and their ``model_dump()``) are fed to the ``run_*`` methods.
"""

from __future__ import annotations

import collections.abc as abc
import contextlib
import functools
import json
import re
import types
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from anthropic.types import Message, MessageParam, ToolParam, ToolResultBlockParam
from anthropic.types.message_create_params import MessageCreateParamsBase
from anthropic.types.tool_param import InputSchemaTyped
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageToolCall,
    ChatCompletionToolMessageParam,
    ChatCompletionToolParam,
)
from openai.types.chat.chat_completion_message_function_tool_call import Function
from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from openai.types.responses import FunctionToolParam
from openai.types.responses.response_create_params import ResponseCreateParamsBase
from pydantic import TypeAdapter, ValidationError
from typing_extensions import (
    NotRequired,
    ReadOnly,
    Required,
    get_type_hints,
    is_typeddict,
)

from duomcp import AsyncClient, Client
from duomcp.llm import LLMTools
from duomcp.testing import ReferenceServer
from duomcp.types import (
    BlobResourceContents,
    CallToolResult,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    Root,
    TextContent,
    Tool,
)

# -- the checker ----------------------------------------------------------------------------

_WRAPPERS = {Required, NotRequired, ReadOnly, Annotated}
_MAPPINGS = {dict, abc.Mapping, abc.MutableMapping}
_SEQUENCES = {list, tuple, abc.Iterable, abc.Sequence, abc.Collection, abc.MutableSequence}
_LEAVES: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (int, float)}


@functools.cache
def _hints(typed_dict: type) -> dict[str, Any]:
    return get_type_hints(typed_dict, include_extras=True)


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _is_sequence(origin: Any) -> bool:
    # the SDKs' SequenceNotStr[X]: a Protocol for "a list, not a str"
    return origin in _SEQUENCES or getattr(origin, "__name__", None) == "SequenceNotStr"


def _unwrapped(tp: Any) -> Any:
    """``X`` of ``Required[X]``, ``Annotated[X, ...]`` and the like."""
    while get_origin(tp) in _WRAPPERS:
        tp = get_args(tp)[0]
    return tp


def problems(value: Any, tp: Any, path: str = "$") -> list[str]:
    """What keeps ``value`` from being a ``tp`` (a TypedDict, or any annotation in one):
    ``[]`` if nothing does."""
    tp = _unwrapped(tp)
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any or tp is object:
        return []
    if origin is Union or origin is types.UnionType:
        return _union_problems(value, args, path)
    if origin is Literal:
        if any(type(value) is type(option) and value == option for option in args):
            return []
        return [f"{path}: {value!r} is not one of {list(args)}"]
    if is_typeddict(tp):
        return _typed_dict_problems(value, tp, path)
    if origin in _MAPPINGS:
        if not isinstance(value, dict):
            return [f"{path}: a {type(value).__name__}, not an object"]
        key_type, value_type = args or (str, Any)
        found = []
        for key, item in value.items():
            found += problems(key, key_type, f"{path} key {key!r}")
            found += problems(item, value_type, f"{path}.{key}")
        return found
    if _is_sequence(origin):
        if not isinstance(value, list):
            return [f"{path}: a {type(value).__name__}, not an array"]
        item_type = args[0] if args else Any
        return [
            p for i, item in enumerate(value) for p in problems(item, item_type, f"{path}[{i}]")
        ]
    if tp is None or tp is type(None):
        return [] if value is None else [f"{path}: {value!r} is not null"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if tp in _LEAVES:
        if isinstance(value, _LEAVES[tp]) and not isinstance(value, bool):
            return []
        return [f"{path}: {value!r} is not a {tp.__name__}"]
    try:  # anything else (none met so far): pydantic's strict verdict
        _adapter(tp).validate_python(value, strict=True)
    except ValidationError as error:
        return [f"{path}: {error.errors()[0]['msg']} ({tp!r})"]
    except Exception as error:  # a type pydantic cannot build a validator for
        return [f"{path}: cannot check {tp!r}: {error}"]
    return []


def _union_problems(value: Any, members: tuple[Any, ...], path: str) -> list[str]:
    tried = [problems(value, member, path) for member in members]
    if any(not found for found in tried):
        return []

    def wrong_kind(found: list[str]) -> bool:  # another JSON type, or "type"/"role" value
        return any(p.startswith((f"{path}:", f"{path}.type:", f"{path}.role:")) for p in found)

    closest = min(tried, key=lambda found: (wrong_kind(found), len(found)))
    return [f"{path}: fits none of {len(members)} union members; the closest:", *closest]


@functools.cache
def _required_keys(typed_dict: type) -> frozenset[str]:
    """The keys ``typed_dict`` requires. ``__required_keys__`` alone misses the SDKs'
    ``Required[...]`` keys: their modules use ``from __future__ import annotations``, a
    TypedDict class cannot see ``Required`` inside a string annotation, and so every key of
    a ``total=False`` SDK TypedDict looks optional there. The evaluated hints still carry
    the wrappers."""
    marked = {key: get_origin(hint) for key, hint in _hints(typed_dict).items()}
    declared: frozenset[str] = typed_dict.__required_keys__  # type: ignore[attr-defined]
    explicit = {key for key, origin in marked.items() if origin is Required}
    optional = {key for key, origin in marked.items() if origin is NotRequired}
    return frozenset((declared | explicit) - optional)


def _typed_dict_problems(value: Any, tp: type, path: str) -> list[str]:
    name = tp.__name__
    if not isinstance(value, dict):
        return [f"{path}: a {type(value).__name__}, not an object ({name})"]
    hints = _hints(tp)
    found = [
        f"{path}.{key}: missing; {name} requires it"
        for key in sorted(_required_keys(tp) - set(value))
    ]
    if getattr(tp, "__pydantic_config__", {}).get("extra") != "allow":
        found += [f"{path}.{key}: {name} declares no such key" for key in value if key not in hints]
    for key, item in value.items():
        if key in hints:
            found += problems(item, hints[key], f"{path}.{key}")
    return found


def assert_fits(value: Any, tp: Any) -> None:
    """``value`` is a ``tp`` for pydantic and for :func:`problems`, and plain JSON."""
    _adapter(tp).validate_python(value)
    assert problems(value, tp) == []
    assert json.loads(json.dumps(value)) == value  # what the SDKs send: JSON, no tuples


def request_field(params: type, field: str) -> Any:
    """The type of a request body's field, e.g. ``tools`` of a Messages request."""
    return _unwrapped(_hints(params)[field])


CHAT_TOOLS = request_field(CompletionCreateParamsBase, "tools")
CHAT_MESSAGES = request_field(CompletionCreateParamsBase, "messages")
RESPONSES_TOOLS = request_field(ResponseCreateParamsBase, "tools")
MESSAGES_TOOLS = request_field(MessageCreateParamsBase, "tools")
MESSAGES_MESSAGES = request_field(MessageCreateParamsBase, "messages")

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""The names OpenAI's FunctionDefinition.name documents (the SDK's docstring); llm.py holds
Anthropic's tool names to the same."""


def test_the_checker_catches_what_pydantic_lets_through() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert_fits(tool, ChatCompletionToolParam)

    renamed = {"type": "function", "function": {"name": "f", "parameter": {"type": "object"}}}
    _adapter(ChatCompletionToolParam).validate_python(renamed)  # pydantic: fine
    assert problems(renamed, ChatCompletionToolParam) == [
        "$.function.parameter: FunctionDefinition declares no such key"
    ]
    assert problems({**tool, "strict": True}, ChatCompletionToolParam) == [
        "$.strict: ChatCompletionFunctionToolParam declares no such key"
    ]
    assert problems({"name": "f"}, ToolParam) == ["$.input_schema: missing; ToolParam requires it"]
    assert problems({**tool, "type": "custom"}, ChatCompletionToolParam) == [
        "$.type: 'custom' is not one of ['function']"
    ]
    # inside an Iterable, which pydantic leaves unchecked
    block = {"type": "tool_result", "tool_use_id": "u", "content": [{"type": "text", "text": 5}]}
    _adapter(ToolResultBlockParam).validate_python(block)
    assert "$.content[0].text: 5 is not a str" in problems(block, ToolResultBlockParam)
    nested = {**block, "content": [{"type": "text", "text": "t", "extra": 1}]}
    assert "$.content[0].extra: TextBlockParam declares no such key" in problems(
        nested, ToolResultBlockParam
    )
    # through a request field's union of tool kinds: the closest member is named
    found = problems([{"name": "f", "input_schema": {"type": "object"}, "x": 1}], MESSAGES_TOOLS)
    assert found[-1] == "$[0].x: ToolParam declares no such key"
    assert problems([{"name": "f", "input_schema": {"type": "object"}}], MESSAGES_TOOLS) == []
    # InputSchemaTyped allows extra keys (JSON Schema keywords), but not a wrong "required"
    assert problems({"type": "object", "$defs": {}}, InputSchemaTyped) == []
    assert problems({"type": "object", "required": "a"}, InputSchemaTyped) != []
    assert problems({"type": "array"}, InputSchemaTyped) != []


# -- definitions ----------------------------------------------------------------------------


def check_definitions(llm: LLMTools) -> None:
    """Every definition of every API fits the SDKs' types, one by one and as the request's
    ``tools`` field; names fit the APIs and map back."""
    chat = llm.openai()
    for entry in chat:
        assert_fits(entry, ChatCompletionToolParam)
        assert NAME.match(entry["function"]["name"])
        assert entry["function"]["parameters"]["type"] == "object"
    assert_fits(chat, CHAT_TOOLS)

    responses = llm.openai_responses()
    for entry in responses:
        assert_fits(entry, FunctionToolParam)
    assert_fits(responses, RESPONSES_TOOLS)

    anthropic = llm.anthropic()
    for entry in anthropic:
        assert_fits(entry, ToolParam)
        assert_fits(entry["input_schema"], InputSchemaTyped)  # the typed form, not any dict
        assert NAME.match(entry["name"])
    assert_fits(anthropic, MESSAGES_TOOLS)

    names = [entry["function"]["name"] for entry in chat]
    assert names == [entry["name"] for entry in responses] == [e["name"] for e in anthropic]
    assert len(set(names)) == len(names)
    assert [llm.mcp_name(name) for name in names] == [tool.name for tool in llm.tools]


@contextlib.asynccontextmanager
async def reference(era: str) -> AsyncIterator[AsyncClient]:
    """A client of a reference server of ``era`` with its task tools, able to answer every
    server-to-client request its tools make."""

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        return CreateMessageResult(role="assistant", content=TextContent(text="sampled"), model="m")

    async def elicit(params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    server = ReferenceServer(era=era, tasks=True, task_poll_interval_ms=10)  # type: ignore[arg-type]
    async with server:
        async with AsyncClient(
            server.url,
            timeout=10,
            sampling_handler=sample,
            elicitation_handler=elicit,
            roots=[Root(uri="file:///work", name="work")],
        ) as client:
            yield client


ERAS = ["legacy", "modern"]


@pytest.mark.parametrize("era", ERAS)
async def test_reference_definitions_fit_the_published_types(era: str) -> None:
    async with reference(era) as client:
        tools = await client.list_tools()
    assert {"echo", "add", "fail", "greet"} <= {tool.name for tool in tools}
    check_definitions(LLMTools(tools))


_OBJECT = {"type": "object"}
EDGE_TOOLS = [
    Tool(name="files/read.v2", description="Read.", input_schema=_OBJECT),  # refused chars
    Tool(name="x" * 80, input_schema=_OBJECT),  # too long, no description
    Tool(name="x" * 81, input_schema=_OBJECT),  # the same first 55 characters
    Tool(name="", input_schema=_OBJECT),
    Tool(name="ünïcødé tool", title="Unicode", input_schema=_OBJECT),  # title, no description
    Tool(name="a.b", input_schema=_OBJECT),
    Tool(name="a_b", input_schema=_OBJECT),  # what a.b would become, unhashed
    Tool(name="empty_schema", input_schema={}),
    Tool(name="no_type", input_schema={"properties": {"q": {"type": "string"}}}),
    Tool(
        name="full_schema",
        description="",
        input_schema={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"q": {"type": "string"}, "n": {"$ref": "#/$defs/n"}},
            "required": ["q"],
            "additionalProperties": False,
            "$defs": {"n": {"type": "integer"}},
        },
    ),
]


def test_edge_definitions_fit_the_published_types() -> None:
    llm = LLMTools(EDGE_TOOLS)
    check_definitions(llm)
    by_name = {tool.name: entry for tool, entry in zip(llm.tools, llm.anthropic(), strict=True)}
    assert by_name["ünïcødé tool"]["description"] == "Unicode"
    assert by_name["x" * 80]["description"] == ""
    assert by_name["empty_schema"]["input_schema"] == {"type": "object", "properties": {}}


def test_responses_definitions_say_strict() -> None:
    for entry in LLMTools(EDGE_TOOLS).openai_responses():
        assert problems(entry, FunctionToolParam) == []


# -- results: the model's calls as SDK objects, run back --------------------------------------

_ARGUMENTS = {"string": "hi", "number": 2, "integer": 1, "boolean": True}
_OVERRIDES = {
    "slow": {"seconds": 0},
    "slow_compute": {"seconds": 0},
    "progress": {"steps": 1, "delay": 0},
    "flood": {"count": 2},
    "mrtr_rounds": {"rounds": 1},
}
RAISING = {
    "bad_structured": "StructuredContentError: its result breaks its output schema",
    "protocol_error_job": "TaskFailedError: a JSON-RPC error, not a tool result",
}
"""Tools whose call_tool raises, and the run_* methods with it: no result to check."""


def arguments_for(tool: Tool) -> dict[str, Any]:
    """Small arguments that fit the tool's schema."""
    properties = tool.input_schema.get("properties", {})
    required = tool.input_schema.get("required", [])
    arguments = {key: _ARGUMENTS[properties[key]["type"]] for key in required}
    return {**arguments, **_OVERRIDES.get(tool.name, {})}


def chat_completion(calls: Sequence[tuple[str, str, dict[str, Any]]]) -> ChatCompletion:
    """A Chat Completions response asking for ``(id, name, arguments)`` calls, as the SDK
    parses it off the wire."""
    tool_calls = [
        {"id": id_, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for id_, name, args in calls
    ]
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
        }
    )


def anthropic_message(calls: Sequence[tuple[str, str, dict[str, Any]]]) -> Message:
    """A Messages response with a text block and ``(id, name, input)`` tool uses, as the SDK
    parses it off the wire."""
    uses = [
        {"type": "tool_use", "id": id_, "name": name, "input": args} for id_, name, args in calls
    ]
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [{"type": "text", "text": "Let me check."}, *uses],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )


def check_chat_replies(
    completion: ChatCompletion, replies: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The ``tool`` messages fit the SDK's type, answer the calls in order, and make a valid
    ``messages`` field after the assistant's message; returned by call id."""
    tool_calls = completion.choices[0].message.tool_calls or []
    assert [reply["tool_call_id"] for reply in replies] == [call.id for call in tool_calls]
    for reply in replies:
        assert_fits(reply, ChatCompletionToolMessageParam)
    assistant = {"role": "assistant", "tool_calls": [call.model_dump() for call in tool_calls]}
    assert_fits([{"role": "user", "content": "Go."}, assistant, *replies], CHAT_MESSAGES)
    return {reply["tool_call_id"]: reply for reply in replies}


def check_anthropic_results(
    message: Message, results: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The ``tool_result`` blocks fit the SDK's type, answer the tool uses in order, and make a
    valid ``messages`` field as the next user turn; returned by tool use id."""
    uses = [block.id for block in message.content if block.type == "tool_use"]
    assert [result["tool_use_id"] for result in results] == uses
    for result in results:
        assert_fits(result, ToolResultBlockParam)
    assistant = {
        "role": "assistant",
        "content": [block.model_dump(exclude_none=True) for block in message.content],
    }
    user = {"role": "user", "content": results}
    assert_fits(user, MessageParam)
    assert_fits([{"role": "user", "content": "Go."}, assistant, user], MESSAGES_MESSAGES)
    return {result["tool_use_id"]: result for result in results}


@pytest.mark.parametrize("era", ERAS)
async def test_reference_results_fit_the_published_types(era: str) -> None:
    async with reference(era) as client:
        tools = [t for t in await client.list_tools() if t.name not in RAISING]
        llm = LLMTools(tools)
        calls = [(f"call_{i}", tool.name, arguments_for(tool)) for i, tool in enumerate(tools)]
        completion = chat_completion(calls)
        tool_calls = completion.choices[0].message.tool_calls or []
        replies = await llm.run_openai(client, tool_calls)  # the SDK's objects
        by_id = check_chat_replies(completion, replies)
        few = chat_completion([call for call in calls if call[1] in ("echo", "add", "fail")])
        dumped = [call.model_dump() for call in few.choices[0].message.tool_calls or []]
        as_dicts = check_chat_replies(few, await llm.run_openai(client, dumped))
        assert as_dicts == {id_: by_id[id_] for id_ in as_dicts}

        message = anthropic_message(calls)
        results = await llm.run_anthropic(client, message.content)  # the SDK's objects
        by_use = check_anthropic_results(message, results)
        few_uses = anthropic_message([call for call in calls if call[1] in ("echo", "fail")])
        blocks = [block.model_dump() for block in few_uses.content]
        as_dicts = check_anthropic_results(few_uses, await llm.run_anthropic(client, blocks))
        assert as_dicts == {id_: by_use[id_] for id_ in as_dicts}

    index = {name: id_ for id_, name, _ in calls}
    assert by_id[index["echo"]]["content"] == "hi"
    assert json.loads(by_id[index["add"]]["content"]) == {"result": 4}
    assert by_use[index["echo"]]["content"] == [{"type": "text", "text": "hi"}]
    assert by_use[index["echo"]]["is_error"] is False
    assert by_use[index["fail"]]["is_error"] is True


class FixedResults:
    """A call target whose tools return prepared results; it records the names called."""

    def __init__(self, results: Mapping[str, CallToolResult]) -> None:
        self.results = results
        self.called: list[tuple[str, Mapping[str, Any] | None]] = []

    def _call(self, name: str, arguments: Mapping[str, Any] | None) -> CallToolResult:
        self.called.append((name, arguments))
        return self.results[name]

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None
    ) -> CallToolResult:
        return self._call(name, arguments)


class BlockingFixedResults(FixedResults):
    def call_tool(  # type: ignore[override]
        self, name: str, arguments: Mapping[str, Any] | None = None
    ) -> CallToolResult:
        return self._call(name, arguments)


_PNG = "iVBORw0KGgo="
EDGE_RESULTS = {
    "files/read.v2": CallToolResult(content=(TextContent(text="a"), TextContent(text="b"))),
    "x" * 80: CallToolResult(content=(), structured_content={"n": 1}),
    "x" * 81: CallToolResult(content=(ImageContent(data=_PNG, mime_type="image/png"),)),
    "": CallToolResult(content=(TextContent(text="broken"),), is_error=True),
    "ünïcødé tool": CallToolResult(
        content=(
            EmbeddedResource(resource=BlobResourceContents(blob="AA==", uri="mem://b")),
            ResourceLink(name="r", uri="mem://r"),
        )
    ),
    "a.b": CallToolResult(content=(TextContent(text="ab"),)),
    "a_b": CallToolResult(content=(TextContent(text="a_b"),)),
    "empty_schema": CallToolResult(content=()),
    "no_type": CallToolResult(content=(TextContent(text=""),)),
    "full_schema": CallToolResult(content=(TextContent(text="ok"),), is_error=False),
}


def _edge_calls(llm: LLMTools) -> list[tuple[str, str, dict[str, Any]]]:
    """One call per edge tool, by the name the model sees."""
    names = [entry["function"]["name"] for entry in llm.openai()]
    return [(f"e{i}", name, {"i": i}) for i, name in enumerate(names)]


async def test_edge_results_fit_the_published_types() -> None:
    llm = LLMTools(EDGE_TOOLS)
    target = FixedResults(EDGE_RESULTS)
    calls = _edge_calls(llm)
    completion = chat_completion(calls)
    replies = await llm.run_openai(target, completion.choices[0].message.tool_calls or [])
    by_id = check_chat_replies(completion, replies)
    message = anthropic_message(calls)
    by_use = check_anthropic_results(message, await llm.run_anthropic(target, message.content))
    names = [tool.name for tool in EDGE_TOOLS]
    assert target.called == [(name, {"i": i}) for _ in range(2) for i, name in enumerate(names)]

    texts = {name: by_id[f"e{i}"]["content"] for i, name in enumerate(names)}
    assert texts["files/read.v2"] == "a\nb"
    assert json.loads(texts["x" * 80]) == {"n": 1}
    assert texts["x" * 81] == "(no text; the tool returned ImageContent)"
    assert texts["ünïcødé tool"] == "(no text; the tool returned EmbeddedResource, ResourceLink)"
    assert texts["empty_schema"] == texts["no_type"] == "(empty)"
    errors = {name: by_use[f"e{i}"]["is_error"] for i, name in enumerate(names)}
    assert errors[""] is True and errors["full_schema"] is False and errors["a.b"] is False


async def test_anthropic_results_have_no_empty_text_block() -> None:
    llm = LLMTools(EDGE_TOOLS)
    message = anthropic_message(_edge_calls(llm))
    results = await llm.run_anthropic(FixedResults(EDGE_RESULTS), message.content)
    texts = [block["text"] for result in results for block in result["content"]]
    assert all(texts)


@pytest.mark.parametrize("fixture", ["server", "modern_server"])
def test_blocking_runs_with_sdk_objects(fixture: str, request: pytest.FixtureRequest) -> None:
    server: ReferenceServer = request.getfixturevalue(fixture)
    with Client(server.url, timeout=10) as client:
        llm = LLMTools(client.list_tools())
        calls = [("c1", "echo", {"text": "sync"}), ("c2", "fail", {})]
        completion = chat_completion(calls)
        tool_calls = completion.choices[0].message.tool_calls or []
        by_id = check_chat_replies(completion, llm.run_openai_blocking(client, tool_calls))
        assert by_id["c1"]["content"] == "sync"
        message = anthropic_message(calls)
        by_use = check_anthropic_results(
            message, llm.run_anthropic_blocking(client, message.content)
        )
        assert by_use["c1"]["content"] == [{"type": "text", "text": "sync"}]
        assert by_use["c2"]["is_error"] is True

    # a call built by hand with the SDK's model, not parsed off the wire
    call = ChatCompletionMessageToolCall(
        id="c3", type="function", function=Function(name="a_b", arguments='{"x": 1}')
    )
    target = BlockingFixedResults(EDGE_RESULTS)
    (reply,) = LLMTools(EDGE_TOOLS).run_openai_blocking(target, [call])
    assert_fits(reply, ChatCompletionToolMessageParam)
    assert reply["content"] == "a_b" and target.called == [("a_b", {"x": 1})]

"""The wire format: every JSON rule of the MCP models (the converter's, with fast paths).

The models know nothing of JSON; here are the rules:

- attribute ``mime_type`` is wire field ``mimeType``; ``meta`` is ``_meta``; the reserved
  ``_meta`` keys of the ``*MetaObject`` models carry the ``io.modelcontextprotocol/`` prefix;
- ``None`` is left out on output (a required field that may be ``null`` is kept);
- wire fields a model does not know go into its ``extra`` and come back out unchanged;
- unions are told apart by a constant field (``type``, ``method``, ``mode``), or else by
  which required fields are present; an unknown content ``type`` becomes
  :class:`~duomcp.types.UnknownContent`;
- arrays are tuples, base64 stays ``str``, and JSON-valued members (tool arguments,
  ``_meta``, schemas) are passed through, neither copied nor inspected;
- types are checked strictly: ``"5"`` is not an integer and ``1`` is not a string.

The rules are a cattrs converter's (:mod:`duomcp._converter`, imported on first need).
The common shapes are built here directly, with the same checks and the same result: a
text tool result, and any model whose fields are all scalars, JSON objects, arrays and
models of such fields (the handshake's results). Anything else, and every error, goes the
converter's way, which also words the error.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from .errors import InvalidResponseError
from .types import _models
from .types._lazy import ensure

if TYPE_CHECKING:
    import cattrs

__all__ = ["from_wire", "to_wire", "wire_name"]  # and converter, made on first use

T = TypeVar("T")
_StructureHook = Callable[[Any, Any], Any]
_UnstructureHook = Callable[[Any], Any]
_NoneType = type(None)

_MODELS = frozenset(_models.MODELS)
_META_PREFIX = "io.modelcontextprotocol/"
_PREFIXED_META = frozenset(
    {
        _models.RequestMetaObject,
        _models.ResultMetaObject,
        _models.NotificationMetaObject,
        _models.SubscriptionsListenResultMetaObject,
    }
)
_UNPREFIXED_META = frozenset({"progress_token"})


class _Mismatch(ValueError):
    """A wire value does not have the shape its model needs."""


_CONVERTER: cattrs.Converter | None = None


def _converter() -> cattrs.Converter:
    """The converter between the models of :mod:`duomcp.types` and JSON-ready values."""
    global _CONVERTER
    if _CONVERTER is None:
        from ._converter import converter

        _CONVERTER = converter
    return _CONVERTER


def __getattr__(name: str) -> Any:
    if name == "converter":  # made on first use: importing cattrs takes a few milliseconds
        return _converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- names -----------------------------------------------------------------------------


def wire_name(cls: type, attr: str) -> str:
    """The JSON field name of attribute ``attr`` of model ``cls``."""
    if attr == "meta":
        return "_meta"
    head, *rest = attr.split("_")
    name = head + "".join(part[:1].upper() + part[1:] for part in rest)
    if cls in _PREFIXED_META and attr not in _UNPREFIXED_META:
        return _META_PREFIX + name
    return name


def _data_fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    """The attributes of a model that map to wire fields (all but ``extra``)."""
    ensure(cls)  # models become attrs classes on first use (types._lazy)
    attrs.resolve_types(cls, globalns=vars(_models))
    return tuple(a for a in attrs.fields(cls) if a.name != "extra")


def _kind(value: Any) -> str:
    """How JSON would name the type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# -- type predicates -------------------------------------------------------------------


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Union or isinstance(tp, types.UnionType)


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple


def _is_mapping(tp: Any) -> bool:
    return typing.get_origin(tp) in (Mapping, dict)


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _is_plain(tp: Any) -> bool:
    """Whether values of ``tp`` are JSON-ready as they are (no model, no tuple inside)."""
    if tp in (str, int, float, bool, _NoneType, Any) or _is_literal(tp):
        return True
    if _is_mapping(tp):
        return _is_plain(typing.get_args(tp)[1])
    if _is_union(tp):
        return all(_is_plain(arg) for arg in typing.get_args(tp))
    return False


def _literal_values(tp: Any) -> tuple[Any, ...]:
    """The constants a field's type allows, if it is a ``Literal`` (optional or not)."""
    if _is_literal(tp):
        return typing.get_args(tp)
    if _is_union(tp):
        return tuple(v for a in typing.get_args(tp) if _is_literal(a) for v in typing.get_args(a))
    return ()


# -- fast paths of common shapes -------------------------------------------------------
#
# The reply of nearly every tools/call is text blocks and little else. Such a result is
# built here directly, with the same checks; anything else (another content type, an
# unknown field, a value of the wrong type) returns ``None`` and goes the general way,
# which also words the errors. So does a model with a field whose type the generic fast
# path (_fast_model) does not know.

_TEXT_BLOCK_FIELDS = frozenset({"type", "text"})
_FAST_CALL_TOOL_FIELDS = frozenset(
    {"content", "isError", "structuredContent", "resultType", "_meta"}
)


def _fast_call_tool_result(data: Mapping[str, Any]) -> Any:
    if type(data) is not dict or not data.keys() <= _FAST_CALL_TOOL_FIELDS:
        return None
    content = data.get("content")
    is_error = data.get("isError")
    result_type = data.get("resultType")  # a modern server's "complete"
    meta = data.get("_meta")  # a modern server's serverInfo, say: passed through
    if (
        type(content) is not list
        or (is_error is not None and type(is_error) is not bool)
        or (result_type is not None and type(result_type) is not str)
        or (meta is not None and not isinstance(meta, Mapping))
    ):
        return None
    text_content = _models.TextContent
    blocks = []
    for item in content:
        if type(item) is not dict or item.keys() != _TEXT_BLOCK_FIELDS:
            return None
        text = item["text"]
        if item["type"] != "text" or type(text) is not str:
            return None
        blocks.append(text_content(text=text))
    return _models.CallToolResult(
        content=tuple(blocks),
        is_error=is_error,
        structured_content=data.get("structuredContent"),
        result_type=result_type,
        meta=meta,
    )


_FAST_PATHS: dict[type, Callable[[Mapping[str, Any]], Any]] = {
    _models.CallToolResult: _fast_call_tool_result,
}

_NO: Any = object()  # a value the fast path does not take: the converter's way
_fast_models: dict[type, Callable[[dict[str, Any]], Any] | None] = {}


def _fast_path(cls: type) -> Callable[[dict[str, Any]], Any] | None:
    """The fast builder of ``cls``: a hand-written one, else the generic one, if any."""
    return _FAST_PATHS.get(cls) or _fast_model(cls)


def _fast_model(cls: type) -> Callable[[dict[str, Any]], Any] | None:
    """A builder of model ``cls`` from a JSON object, returning ``None`` for anything it
    does not take; ``None`` itself for a model with a field of a type it does not know (a
    union of several types, say). Made on first use, once per class."""
    try:
        return _fast_models[cls]
    except KeyError:
        pass
    fast = None
    if cls in _MODELS:
        fields = _data_fields(cls)
        by_wire: dict[str, tuple[str, Callable[[Any], Any]]] = {}
        for f in fields:
            value = _fast_value(f.type)
            if value is None:
                break
            by_wire[wire_name(cls, f.name)] = (f.alias or f.name, value)
        else:
            required = frozenset(f.alias or f.name for f in fields if f.default is attrs.NOTHING)
            fast = _model_builder(cls, by_wire, required)
    _fast_models[cls] = fast
    return fast


def _model_builder(
    cls: type, by_wire: dict[str, tuple[str, Callable[[Any], Any]]], required: frozenset[str]
) -> Callable[[dict[str, Any]], Any]:
    def build(data: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            field = by_wire.get(key)
            if field is None:
                extra[key] = value  # kept, and written back out unchanged
                continue
            built = field[1](value)
            if built is _NO:
                return None
            kwargs[field[0]] = built
        if not required <= kwargs.keys():
            return None  # the converter says which field is missing
        if extra:
            kwargs["extra"] = extra
        return cls(**kwargs)

    return build


def _fast_value(tp: Any) -> Callable[[Any], Any] | None:
    """How the fast path takes a field's value of type ``tp`` (the value, or ``_NO`` where
    the converter's hook would convert or refuse it); ``None`` for a type it does not know."""
    if tp is str or tp is int:
        return lambda value: value if type(value) is tp else _NO
    if tp is bool:
        return lambda value: value if value is True or value is False else _NO
    if tp is float:  # an int stays an int, as with the converter
        return lambda value: value if type(value) is float or type(value) is int else _NO
    if tp is Any:
        return lambda value: value
    if _is_literal(tp):
        allowed = typing.get_args(tp)
        kinds = {type(v) for v in allowed}
        return lambda value: value if type(value) in kinds and value in allowed else _NO
    if _is_mapping(tp):
        value_type = typing.get_args(tp)[1]
        if value_type is Any:  # a JSON object, passed through
            return lambda value: value if isinstance(value, Mapping) else _NO
        member = _fast_value(value_type)
        return None if member is None else lambda value: _fast_mapping(value, member)
    if _is_tuple(tp):
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            return None
        item = _fast_value(args[0])
        return None if item is None else lambda value: _fast_tuple(value, item)
    if _is_union(tp):
        members = [arg for arg in typing.get_args(tp) if arg is not _NoneType]
        if Any in members:
            return lambda value: value
        inner = _fast_value(members[0]) if len(members) == 1 else None
        if inner is None:
            return None
        return lambda value: None if value is None else inner(value)
    if tp in _MODELS:
        return lambda value: _fast_nested(value, tp)
    return None


def _fast_mapping(value: Any, member: Callable[[Any], Any]) -> Any:
    if not isinstance(value, Mapping):
        return _NO
    out = {}
    for key, item in value.items():
        built = member(item)
        if built is _NO:
            return _NO
        out[key] = built
    return out


def _fast_tuple(value: Any, item: Callable[[Any], Any]) -> Any:
    if type(value) is not list:
        return _NO
    out = []
    for element in value:
        built = item(element)
        if built is _NO:
            return _NO
        out.append(built)
    return tuple(out)


def _fast_nested(value: Any, cls: type) -> Any:
    if type(value) is not dict:
        return _NO
    fast = _fast_path(cls)
    built = None if fast is None else fast(value)
    return _NO if built is None else built


# -- unstructuring: containers and unions ----------------------------------------------


_unstructured: set[type] = set()  # models that needed their unstructure hook
_plain_fields: dict[type, tuple[tuple[str, str, bool], ...]] = {}
_SCALARS = frozenset((str, int, float, bool))


def _plain_model(value: Any, cls: type) -> dict[str, Any] | None:
    """``value`` as the unstructure hook would write it, if each of its fields holds a
    string, number, boolean or ``None`` (a client's ``Implementation``, say); else
    ``None``. Making the hook makes those of every model the class may hold: a process
    that only ever sends such models (most send one, at start-up) needs none of them."""
    fields = _plain_fields.get(cls)
    if fields is None:
        fields = _plain_fields[cls] = tuple(
            (a.name, wire_name(cls, a.name), a.default is None)
            for a in attrs.fields(cls)
            if a.name != "extra"
        )
    out: dict[str, Any] = {}
    for name, wire, omit_none in fields:
        item = getattr(value, name)
        if item is None:
            if omit_none:
                continue
        elif item.__class__ not in _SCALARS:
            return None
        out[wire] = item
    for key, item in value.extra.items():
        out.setdefault(key, item)  # a known field wins over a stale copy in extra
    return out


def _unstructure_value(value: Any) -> Any:
    """Turn a value of any type into JSON-ready data, by its runtime class."""
    cls = value.__class__
    if cls in (str, int, float, bool, _NoneType):
        return value
    if cls in _MODELS:
        if cls not in _unstructured:  # no hook made yet: a model of plain values needs none
            plain = _plain_model(value, cls)
            if plain is not None:
                return plain
            _unstructured.add(cls)
        return _converter().unstructure(value)
    if cls in (tuple, list):
        return [_unstructure_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _unstructure_value(item) for key, item in value.items()}
    return _converter().unstructure(value)


# -- the package's API -----------------------------------------------------------------

_structure_hooks: dict[Any, _StructureHook] = {}


def from_wire(data: Any, cls: type[T]) -> T:
    """Turn a parsed JSON value into a model (or into a union or map alias of models).

    Raises:
        InvalidResponseError: the value does not fit ``cls``; the message names the class
            and the wire path of each offending field.
    """
    hook = _structure_hooks.get(cls)
    if hook is None:
        if type(data) is dict:
            # Before the general hook is made: making it imports cattrs and builds the
            # hooks of every class the model may hold (for a CallToolResult, every content
            # type), which a process whose messages all take the fast path never needs.
            fast = _fast_path(cls)
            done = None if fast is None else fast(data)
            if done is not None:
                return done  # type: ignore[no-any-return]
        hook = _structure_hooks[cls] = _converter().get_structure_hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except Exception as exc:
        from ._converter import describe, is_failure

        if not is_failure(exc):
            raise
        name = getattr(cls, "__name__", None) or str(cls)
        raise InvalidResponseError(describe(exc, name)) from exc


def to_wire(obj: Any) -> Any:
    """Turn a model, or a tuple, list or dict of them, into JSON-ready data.

    JSON-valued members (tool arguments, ``_meta``, schemas, ``extra`` values) are passed
    through as they are, not copied.
    """
    return _unstructure_value(obj)

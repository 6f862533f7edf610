"""The wire format: one cattrs converter holding every JSON rule of the MCP models.

The models know nothing of JSON. Here: wire names (camelCase, ``_meta``) from each field's
metadata, ``None`` left out on output, unknown fields kept in ``extra`` and re-emitted,
unions resolved by their ``type`` tag or by which required fields are present, unknown
content types kept as :class:`~duomcp.types.UnknownContent`, base64 kept as ``str``.
Hooks are built once per class, so converting a message costs no reflection.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from .errors import InvalidResponseError
from .types import _models

__all__ = ["converter", "from_wire", "to_wire"]

_T = TypeVar("_T")
_Hook = Callable[[Any], Any]

converter = cattrs.Converter()
"""The converter between models and JSON-ready Python values."""


class _WireError(ValueError):
    """A value does not fit its model; ``path`` locates it."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _check(kind: type | tuple[type, ...], label: str) -> _Hook:
    def check(value: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _WireError("", f"expected {label}, got {type(value).__name__}")
        return value

    return check


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _WireError("", f"expected a number, got {type(value).__name__}")
    return float(value)


def _identity(value: Any) -> Any:
    return value


_PRIMITIVES: dict[Any, _Hook] = {
    str: _check(str, "a string"),
    int: _check(int, "an integer"),
    bool: _check(bool, "a boolean"),
    float: _to_float,
    Any: _identity,
}


def _hook_for(tp: Any) -> _Hook:
    """Return a function turning a wire value into ``tp`` (``None`` handled by callers)."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if tp in _PRIMITIVES:
        return _PRIMITIVES[tp]
    if origin is dict:
        if args[1] is Any:
            return _check(dict, "an object")
        value_hook = _hook_for(args[1])

        def to_dict(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise _WireError("", f"expected an object, got {type(value).__name__}")
            out = {}
            for key, element in value.items():
                try:
                    out[key] = value_hook(element)
                except _WireError as exc:
                    raise _WireError(f"[{key!r}]{exc.path}", exc.problem) from None
            return out

        return to_dict
    if origin is tuple:
        item = _hook_for(args[0])

        def to_tuple(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise _WireError("", f"expected an array, got {type(value).__name__}")
            out = []
            for index, element in enumerate(value):
                try:
                    out.append(item(element))
                except _WireError as exc:
                    raise _WireError(f"[{index}]{exc.path}", exc.problem) from None
            return tuple(out)

        return to_tuple
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return _hook_for(members[0])
        return _union_hook(tuple(members))
    if attrs.has(tp):
        return lambda value: converter.structure(value, tp)
    raise TypeError(f"no wire rule for {tp!r}")  # pragma: no cover - generator bug


def _consts(cls: type) -> dict[str, str]:
    """Wire fields whose default is a fixed string: ``type``, ``method``, ``mode``..."""
    return {
        f.metadata["wire"]: f.default
        for f in attrs.fields(cls)
        if "wire" in f.metadata and isinstance(f.default, str)
    }


def _discriminator(classes: list[type]) -> str | None:
    """The wire field whose fixed value tells the union's members apart, if any."""
    consts = [_consts(cls) for cls in classes if cls is not _models.UnknownContent]
    if len(consts) < 2:
        return None
    for key in consts[0]:
        values = [c.get(key) for c in consts]
        if None not in values and len(set(values)) == len(values):
            return key
    return None


def _required(cls: type) -> frozenset[str]:
    return frozenset(
        f.metadata["wire"]
        for f in attrs.fields(cls)
        if "wire" in f.metadata and f.default is attrs.NOTHING
    )


def _union_hook(members: tuple[Any, ...]) -> _Hook:
    classes = [m for m in members if attrs.has(m)]
    others = [m for m in members if not attrs.has(m)]
    key = _discriminator(classes) or "type"
    by_tag = {tag: cls for cls in classes if (tag := _consts(cls).get(key)) is not None}
    untagged = [(cls, _required(cls)) for cls in classes if key not in _consts(cls)]
    other_hooks = [_hook_for(m) for m in others]
    unknown = _models.UnknownContent in classes

    def pick(value: Any) -> Any:
        if isinstance(value, Mapping):
            tag = value.get(key)
            if isinstance(tag, str) and tag in by_tag:
                return converter.structure(value, by_tag[tag])
            for cls, required in untagged:
                if cls is not _models.UnknownContent and required <= value.keys():
                    return converter.structure(value, cls)
            if unknown and isinstance(value.get("type"), str):
                return converter.structure(value, _models.UnknownContent)
        for hook in other_hooks:
            try:
                return hook(value)
            except _WireError:
                continue
        names = ", ".join(getattr(m, "__name__", str(m)) for m in members)
        raise _WireError("", f"matches none of {names}")

    return pick


def _structure_fn(cls: type) -> Callable[[Any, Any], Any]:
    hints = typing.get_type_hints(cls, vars(_models))
    fields = [
        (f.name, f.metadata["wire"], _hook_for(hints[f.name]))
        for f in attrs.fields(cls)
        if "wire" in f.metadata
    ]
    known = frozenset(wire for _, wire, _ in fields)
    has_extra = any(f.metadata.get("extra") for f in attrs.fields(cls))
    name = cls.__name__

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, Mapping):
            raise _WireError(name, f"expected an object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for attr, wire, hook in fields:
            value = data.get(wire)
            if value is None:
                continue
            try:
                kwargs[attr] = hook(value)
            except _WireError as exc:
                raise _WireError(f"{name}.{wire}{exc.path}", exc.problem) from None
        if has_extra and len(data) > len(kwargs):
            extra = {k: v for k, v in data.items() if k not in known}
            if extra:
                kwargs["extra"] = extra
        try:
            return cls(**kwargs)
        except TypeError as exc:
            missing = sorted(_required(cls) - data.keys())
            raise _WireError(name, f"missing required field(s) {missing}") from exc

    return structure


def _plain(tp: Any) -> bool:
    """Whether values of this type are JSON already (no model inside)."""
    if tp in _PRIMITIVES:
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict:
        return args[1] is Any
    if origin is tuple:
        return False  # tuples become lists
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return all(a is type(None) or _plain(a) for a in args)
    return False


def _unstructure_fn(cls: type) -> Callable[[Any], Any]:
    hints = typing.get_type_hints(cls, vars(_models))
    fields = [
        (f.name, f.metadata["wire"], _plain(hints[f.name]))
        for f in attrs.fields(cls)
        if "wire" in f.metadata
    ]
    has_extra = any(f.metadata.get("extra") for f in attrs.fields(cls))

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, wire, plain in fields:
            value = getattr(obj, attr)
            if value is not None:
                out[wire] = value if plain else to_wire(value)
        if has_extra and obj.extra:
            for key, value in obj.extra.items():
                out.setdefault(key, value)
        return out

    return unstructure


_ALIAS_HOOKS: dict[Any, _Hook] = {}
_MODELS = frozenset(_models.MODELS)

# Hooks are built on first use of each class, not at import: most of the ~190 models are
# never converted in a given program, and building them all costs ~75 ms at import time.
converter.register_structure_hook_factory(lambda cls: cls in _MODELS, _structure_fn)
converter.register_unstructure_hook_factory(lambda cls: cls in _MODELS, _unstructure_fn)


def from_wire(data: Any, cls: type[_T]) -> _T:
    """Turn a parsed JSON value into a model.

    Raises:
        InvalidResponseError: the value does not fit the model; the message gives the path
            of the offending field.
    """
    try:
        hook = _ALIAS_HOOKS.get(cls)
        if hook is None:
            hook = _ALIAS_HOOKS[cls] = _hook_for(cls)
        return hook(data)  # type: ignore[no-any-return]
    except _WireError as exc:
        name = getattr(cls, "__name__", str(cls))
        raise InvalidResponseError(f"invalid {name}: {exc}") from None
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise InvalidResponseError(f"invalid {cls.__name__}: {exc}") from exc


def to_wire(obj: Any) -> Any:
    """Turn a model (or a tuple, list or dict of them) into JSON-ready Python values."""
    if attrs.has(type(obj)):
        return converter.unstructure(obj)
    if isinstance(obj, (tuple, list)):
        return [to_wire(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_wire(value) for key, value in obj.items()}
    return obj

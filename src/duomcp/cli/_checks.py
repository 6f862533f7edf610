"""Tool arguments checked against the tool's input schema before a call is sent."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["argument_problems", "signature"]

_MAX_ENUM_SHOWN = 8


def _type_name(spec: Any) -> str:
    """How a property's schema reads in a signature: ``number``, ``string|null``,
    ``"a"|"b"`` (an enum), ``string[]``, or ``any``."""
    if not isinstance(spec, Mapping):
        return "any"
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        shown = [json.dumps(value, ensure_ascii=False) for value in enum[:_MAX_ENUM_SHOWN]]
        return "|".join(shown) + ("|…" if len(enum) > _MAX_ENUM_SHOWN else "")
    if "const" in spec:
        return json.dumps(spec["const"], ensure_ascii=False)
    declared = spec.get("type")
    if isinstance(declared, list):
        return "|".join(str(t) for t in declared) or "any"
    if declared == "array":
        items = spec.get("items")
        return f"{_type_name(items)}[]" if isinstance(items, Mapping) else "array"
    if isinstance(declared, str):
        return declared
    for key in ("anyOf", "oneOf"):
        options = spec.get(key)
        if isinstance(options, list) and options:
            return "|".join(_type_name(option) for option in options)
    return "any"


def _properties(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    properties = (schema or {}).get("properties")
    return properties if isinstance(properties, Mapping) else None


def _required(schema: Mapping[str, Any] | None) -> list[str]:
    required = (schema or {}).get("required")
    return (
        [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    )


def signature(name: str, schema: Mapping[str, Any] | None) -> str:
    """A tool's call as a signature: ``add(a: number, b: number)``; optional parameters
    end in ``?`` and show their default: ``progress(steps?: integer = 3)``."""
    properties = _properties(schema) or {}
    required = set(_required(schema))
    params = []
    for param, spec in properties.items():
        text = f"{param}{'' if param in required else '?'}: {_type_name(spec)}"
        if isinstance(spec, Mapping) and "default" in spec:
            text += f" = {json.dumps(spec['default'], ensure_ascii=False)}"
        params.append(text)
    return f"{name}({', '.join(params)})"


def _accepts_others(schema: Mapping[str, Any]) -> bool:
    """Whether the schema lets names it does not declare through. JSON Schema does unless
    ``additionalProperties`` says no, but tools hardly ever take undeclared arguments: an
    unknown name is a typo far more often, so it is refused unless the schema declares no
    properties at all or opens up with ``additionalProperties``/``patternProperties``."""
    if _properties(schema) is None:
        return True
    extra = schema.get("additionalProperties")
    return bool(extra) or bool(schema.get("patternProperties"))


def argument_problems(arguments: Mapping[str, Any], schema: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with ``arguments`` for a tool with this input schema, one line each,
    naming the argument; empty when nothing is (or when the schema cannot be used)."""
    if not isinstance(schema, Mapping):
        return []
    problems: list[str] = []
    properties = _properties(schema) or {}
    unknown = [] if _accepts_others(schema) else [n for n in arguments if n not in properties]
    for param in unknown:
        close = difflib.get_close_matches(param, list(properties), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"unknown argument {param}{hint}")
    for param in _required(schema):
        if param not in arguments:
            problems.append(f"missing argument {param} ({_type_name(properties.get(param))})")
    problems.extend(_schema_problems(arguments, schema, skip_unknown=bool(unknown)))
    return list(dict.fromkeys(problems))  # in order, once each


def _schema_problems(
    arguments: Mapping[str, Any], schema: Mapping[str, Any], *, skip_unknown: bool
) -> list[str]:
    import jsonschema  # on first use: ~100 ms, and only ``call`` needs it
    import referencing

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(dict(schema))
        validator = cls(dict(schema), registry=referencing.Registry())
        errors = list(validator.iter_errors(dict(arguments)))
    except Exception:  # an invalid or unresolvable schema: the server is left to judge
        return []
    problems = []
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        path = list(error.absolute_path)
        if error.validator == "required" and not path:
            continue  # reported above, with the type
        if error.validator == "additionalProperties" and not path and skip_unknown:
            continue
        if not path:
            problems.append(f"arguments: {error.message}")
            continue
        param = str(path[0])
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path[1:])
        value = json.dumps(error.instance, ensure_ascii=False)
        if error.validator == "type":
            expected = error.validator_value
            if isinstance(expected, list):
                expected = " or ".join(str(t) for t in expected)
            problems.append(f"argument {param}{where}: expected {expected}, got {value}")
        elif error.validator == "enum":
            enum: Any = error.validator_value
            allowed = ", ".join(json.dumps(v, ensure_ascii=False) for v in enum)
            problems.append(f"argument {param}{where}: {value} is not one of {allowed}")
        else:
            problems.append(f"argument {param}{where}: {error.message}")
    return problems

"""Validation of tool output against its ``outputSchema`` (JSON Schema, 2020-12 by default)."""

from __future__ import annotations

from typing import Any

from .errors import StructuredContentError

__all__ = ["validate_structured_content"]


def validate_structured_content(tool: str, schema: Any, value: Any) -> None:
    """Check a tool result's ``structuredContent`` against the tool's ``outputSchema``.

    Schemas without ``$schema`` are read as JSON Schema 2020-12. ``$ref`` to network URIs
    is never fetched: such a reference fails validation.

    Raises:
        StructuredContentError: the value is missing or does not match, or the schema
            itself is invalid or of an unsupported dialect.
    """
    import jsonschema  # imported on first use: it costs ~100 ms and few sessions need it
    import referencing
    import referencing.exceptions

    if value is None:
        raise StructuredContentError(
            f"tool {tool!r} declares an outputSchema but its result has no structuredContent"
        )
    if not isinstance(schema, dict):
        raise StructuredContentError(f"tool {tool!r} has an outputSchema that is not an object")
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        validator = cls(schema, registry=referencing.Registry())
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except jsonschema.exceptions.SchemaError as exc:
        raise StructuredContentError(
            f"tool {tool!r} has an invalid outputSchema: {exc.message}"
        ) from exc
    except referencing.exceptions.Unresolvable as exc:
        raise StructuredContentError(
            f"tool {tool!r}'s outputSchema refers to {exc} which is not fetched"
        ) from exc
    if error is not None:
        path = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise StructuredContentError(
            f"tool {tool!r} returned structuredContent that does not match its outputSchema "
            f"at {path}: {error.message}"
        )

"""W3C trace context for ``_meta``: what a ``trace_context`` hook returns, checked.

Owns: the validation of ``traceparent``, ``tracestate`` and ``baggage`` before they go
into the ``_meta`` of a request (either era), so a faulty hook cannot send junk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["trace_fields"]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def trace_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace context entries for ``_meta``, checked so a bad hook cannot send junk."""
    out: dict[str, str] = {}
    traceparent = fields.get("traceparent")
    if traceparent is not None:
        if not isinstance(traceparent, str) or not _TRACEPARENT.match(traceparent):
            raise ValueError(f"trace_context returned an invalid traceparent {traceparent!r}")
        out["traceparent"] = traceparent
    for key in ("tracestate", "baggage"):
        value = fields.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 8192 or not value.isascii():
            raise ValueError(f"trace_context returned an invalid {key}")
        out[key] = value
    return out

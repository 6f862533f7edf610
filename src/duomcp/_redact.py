"""Secrets out of what people read: URLs in log lines and error messages, redacted.

An endpoint may carry a credential in its URL (``https://user:pass@host``, or
``?api_key=...`` as some hosted servers want). The requests use the URL as given; every
message about it shows it with the userinfo and the values of secret-looking query
parameters (``key``, ``token``, ``secret``, ``password``, ``auth``, ``sig``, ``code``,
``session``...) replaced by ``***``. A filter on duomcp's loggers applies it to every log
line, and :class:`~duomcp.errors.MCPError` to its message.
"""

from __future__ import annotations

import logging
import re

__all__ = ["redact"]

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;][^=&\s#]*(?:key|token|secret|pass|pwd|auth|sig|code|session|cred|jwt)"
    r"[^=&\s#]*=)[^&\s#'\"]+",
    re.IGNORECASE,
)
_LOGGERS = ("duomcp", "duomcp.auth", "duomcp.transport", "duomcp.server")


def redact(text: str) -> str:
    """``text`` with credentials in the URLs it holds replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    return _SECRET_PARAM.sub(r"\g<name>***", text)


class _Redacting(logging.Filter):
    """Redacts the formatted message of each record (its arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _Redacting()
for _name in _LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)

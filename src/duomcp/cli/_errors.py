"""Errors as the one line the ``duomcp`` command prints, with a hint where one helps."""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import urlsplit, urlunsplit

from ..errors import HTTPStatusError, MCPError, TransportError

__all__ = ["describe", "excerpt"]

_NOT_AN_ENDPOINT = frozenset({404, 405, 501})
_EXCERPT_CHARS = 80
# What OpenSSL says when the other end answered a TLS hello in plain text.
_PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"}
)
_TAG = re.compile(r"<[^>]*>")
_DROPPED = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _one_line(text: str) -> str:
    return " ".join(text.split())


def excerpt(body: str, limit: int = _EXCERPT_CHARS) -> str:
    """A short, single-line excerpt of an HTTP error body: an HTML page's title (or its
    first text), else the first characters of the body; ``""`` when there is nothing."""
    text = body.strip()
    if text[:200].lower().lstrip().startswith(("<!doctype", "<html", "<?xml", "<head", "<body")):
        title = _TITLE.search(text)
        text = title[1] if title else _TAG.sub(" ", _DROPPED.sub(" ", text))
        text = html.unescape(text)
    line = _one_line(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _status_line(exc: HTTPStatusError) -> str:
    try:
        phrase = HTTPStatus(exc.status).phrase
    except ValueError:
        phrase = ""
    said = excerpt(exc.body)
    line = f"{exc.url} answered {exc.status} {phrase}".rstrip()
    # the body is shown when it says more than the status line ("404: Not Found" does not)
    if said and _one_line(said).lower().strip(" .") not in {
        phrase.lower(),
        f"{exc.status}: {phrase}".lower(),
        f"{exc.status} {phrase}".lower(),
    }:
        line += f' ("{said}")'
    if exc.status in _NOT_AN_ENDPOINT:
        line += ": is this an MCP endpoint?"
    return line


def _plain_http(exc: BaseException) -> bool:
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return False
        if isinstance(cause, ssl.SSLError):
            reason = str(getattr(cause, "reason", "") or "")
            return reason in _PLAIN_HTTP_REASONS or "wrong version number" in str(cause).lower()
    return False


def describe(exc: MCPError, url: str | None = None) -> str:
    """The message for a failed command: HTTP statuses on one line with a hint, no HTML
    page printed whole, a TLS hello to a plain HTTP port told to use ``http://``."""
    if isinstance(exc, HTTPStatusError) and not 300 <= exc.status < 400:
        return _status_line(exc)
    if isinstance(exc, TransportError):
        if url and url.startswith("https://") and _plain_http(exc):
            plain = urlunsplit(urlsplit(url)._replace(scheme="http"))
            return (
                f"{urlsplit(url).netloc} does not speak TLS (it answered in plain HTTP): "
                f"use http://, as in {plain}"
            )
        line = _one_line(str(exc))
        if any(isinstance(cause, ConnectionRefusedError) for cause in _chain(exc)):
            line += " (is the server running?)"
        return line
    return str(exc)

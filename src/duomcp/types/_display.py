"""How models show themselves: ``str``, IPython's pretty printer and notebook HTML.

``codegen/models.py`` makes the models people look at inherit these mixins (results,
tools, resources, prompts, content blocks); the fields stay in the generated classes, so
equality, hashing and freezing are attrs' as before. :func:`short_base64` is the ``repr``
of base64 fields (``data``, ``blob``): a repr shows their start and size, never megabytes.

Nothing here is imported beyond what ``duomcp`` already loads: the mixins cost nothing
until a model is printed. HTML is escaped throughout; base64 goes into a ``data:`` URL only
when it is valid base64 of a plain MIME type and at most :data:`INLINE_LIMIT` bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from ._models import (
        AudioContent,
        BlobResourceContents,
        CallToolResult,
        EmbeddedResource,
        GetPromptResult,
        ImageContent,
        Prompt,
        ReadResourceResult,
        Resource,
        ResourceLink,
        ResourceTemplate,
        TextContent,
        TextResourceContents,
        Tool,
    )

__all__ = [
    "INLINE_LIMIT",
    "AudioContentDisplay",
    "BlobResourceContentsDisplay",
    "CallToolResultDisplay",
    "EmbeddedResourceDisplay",
    "GetPromptResultDisplay",
    "ImageContentDisplay",
    "PromptDisplay",
    "ReadResourceResultDisplay",
    "ResourceDisplay",
    "ResourceLinkDisplay",
    "ResourceTemplateDisplay",
    "TextContentDisplay",
    "TextResourceContentsDisplay",
    "ToolDisplay",
    "base64_size",
    "format_size",
    "short_base64",
]

INLINE_LIMIT = 5 * 1024 * 1024
"""The largest image or audio (decoded bytes) a notebook shows inline; beyond, a summary."""

SHORT_REPR_CHARS = 16
"""How much of a base64 field a repr shows."""

# Patterns, not compiled ones: ``re`` compiles them at first use, not at import.
_BASE64 = r"[A-Za-z0-9+/]*={0,2}"
_MIME = r"[A-Za-z0-9][A-Za-z0-9.+-]*/[A-Za-z0-9][A-Za-z0-9.+-]*"
_PRE = '<pre style="white-space: pre-wrap; margin: 0">'


# -- helpers ----------------------------------------------------------------------------------


def base64_size(data: str) -> int:
    """The number of bytes ``data`` decodes to, counted without decoding."""
    stripped = data.rstrip("=")
    return len(stripped) * 3 // 4


def format_size(size: int) -> str:
    """``512 B``, ``12.3 KiB``, ``4.0 MiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def short_base64(value: object) -> str:
    """The repr of a base64 field: its first characters and its decoded size."""
    if not isinstance(value, str) or len(value) <= 2 * SHORT_REPR_CHARS:
        return repr(value)
    return f"{value[:SHORT_REPR_CHARS]!r}...({base64_size(value)} bytes)"


def _esc(text: object) -> str:
    """``html.escape(str(text))``, without importing :mod:`html` (and its entity tables)."""
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def _link(uri: str) -> str:
    """A URI as HTML: a link for http(s) only (never ``javascript:``), else code."""
    if uri.lower().startswith(("http://", "https://")):
        return f'<a href="{_esc(uri)}" target="_blank" rel="noopener noreferrer">{_esc(uri)}</a>'
    return f"<code>{_esc(uri)}</code>"


def _media_summary(mime: str | None, data: str) -> str:
    return f"[{mime or 'binary'}, {format_size(base64_size(data))}]"


def _media_html(mime: str | None, data: str, summary: str) -> str:
    """An ``<img>`` or ``<audio>`` of base64 ``data``, or the summary when it can't be."""
    kind = (mime or "").split("/", 1)[0].lower()
    if kind not in ("image", "audio") or not re.fullmatch(_MIME, mime or ""):
        return f"<code>{_esc(summary)}</code>"
    if base64_size(data) > INLINE_LIMIT:
        limit = format_size(INLINE_LIMIT)
        return f"<code>{_esc(summary)}</code> <small>(over the {limit} shown inline)</small>"
    if not re.fullmatch(_BASE64, data):
        return f"<code>{_esc(summary)}</code> <small>(not valid base64)</small>"
    src = f"data:{mime};base64,{data}"
    if kind == "image":
        return f'<img src="{src}" alt="{_esc(summary)}" style="max-width: 100%">'
    return f'<audio controls src="{src}" title="{_esc(summary)}"></audio>'


def _plain_of(block: object) -> str:
    if isinstance(block, _Display):
        return block._plain()
    return f"[{getattr(block, 'type', type(block).__name__)} content]"


def _html_of(block: object) -> str:
    if isinstance(block, _Display):
        return block._html()
    return f"<code>{_esc(_plain_of(block))}</code>"


def _indent(text: str) -> str:
    """Continuation lines of a one-line summary, indented."""
    return text.replace("\n", "\n    ")


def _schema_type(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array" and isinstance(spec.get("items"), Mapping):
        return f"{_schema_type(spec['items'])}[]"
    if isinstance(kind, str):
        return kind
    if "enum" in spec and isinstance(spec["enum"], list):
        return " | ".join(_json(v) for v in spec["enum"])
    return "any"


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _parameters(schema: Mapping[str, Any]) -> str:
    """``text: string, count: integer = 10, seconds?: number`` from an input schema."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ""
    required = schema.get("required")
    needed = set(required) if isinstance(required, list) else set()
    parts = []
    for name, spec in properties.items():
        spec = spec if isinstance(spec, Mapping) else {}
        part = f"{name}{'' if name in needed or 'default' in spec else '?'}: {_schema_type(spec)}"
        if name not in needed and "default" in spec:
            part += f" = {_json(spec['default'])}"
        parts.append(part)
    return ", ".join(parts)


def _described(head: str, description: str | None) -> str:
    text = (description or "").strip()
    return f"{head} — {_indent(text)}" if text else head


def _described_html(head: str, description: str | None, title: str | None) -> str:
    title_attr = f' title="{_esc(title)}"' if title else ""
    text = (description or "").strip()
    rest = f" — {_esc(text)}" if text else ""
    return f'<div style="white-space: pre-wrap"{title_attr}>{head}{rest}</div>'


def _resource_head(uri: str, mime: str | None, size: int | None) -> tuple[str, str]:
    """``<uri> (mime, size)`` as text and as HTML."""
    details = ", ".join(
        part for part in (mime, format_size(size) if size is not None else None) if part
    )
    tail = f" ({details})" if details else ""
    return f"<{uri}>{tail}", f"&lt;{_link(uri)}&gt;{_esc(tail)}"


# -- mixins -----------------------------------------------------------------------------------


class _Display:
    """``str``, ``_repr_pretty_`` and ``_repr_html_`` from ``_plain`` and ``_html``."""

    __slots__ = ()

    def _plain(self) -> str:
        raise NotImplementedError

    def _html(self) -> str:
        return f"{_PRE}{_esc(self._plain())}</pre>"

    def __str__(self) -> str:
        return self._plain()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's pretty printer: the same text as ``str``."""
        p.text(f"{type(self).__name__}(...)" if cycle else self._plain())

    def _repr_html_(self) -> str:
        """A notebook's rich display: escaped HTML, images and audio inline when small."""
        return f'<div class="duomcp">{self._html()}</div>'


class TextContentDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        return cast("TextContent", self).text


class ImageContentDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        me = cast("ImageContent", self)
        return _media_summary(me.mime_type, me.data)

    def _html(self) -> str:
        me = cast("ImageContent", self)
        return _media_html(me.mime_type, me.data, self._plain())


class AudioContentDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        me = cast("AudioContent", self)
        return _media_summary(me.mime_type, me.data)

    def _html(self) -> str:
        me = cast("AudioContent", self)
        return _media_html(me.mime_type, me.data, self._plain())


class TextResourceContentsDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        return cast("TextResourceContents", self).text

    def _html(self) -> str:
        me = cast("TextResourceContents", self)
        head = _resource_head(me.uri, me.mime_type, None)[1]
        return f"<div><small>{head}</small>{_PRE}{_esc(me.text)}</pre></div>"


class BlobResourceContentsDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        me = cast("BlobResourceContents", self)
        size = format_size(base64_size(me.blob))
        return f"[{me.uri}, {me.mime_type or 'binary'}, {size}]"

    def _html(self) -> str:
        me = cast("BlobResourceContents", self)
        return _media_html(me.mime_type, me.blob, self._plain())


class EmbeddedResourceDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        return _plain_of(cast("EmbeddedResource", self).resource)

    def _html(self) -> str:
        return _html_of(cast("EmbeddedResource", self).resource)


class ResourceLinkDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        me = cast("ResourceLink", self)
        head = _resource_head(me.uri, me.mime_type, me.size)[0]
        return f"[resource link: {me.title or me.name} {head}]"

    def _html(self) -> str:
        me = cast("ResourceLink", self)
        head = _resource_head(me.uri, me.mime_type, me.size)[1]
        return f"<div><small>resource link</small> <b>{_esc(me.title or me.name)}</b> {head}</div>"


class CallToolResultDisplay(_Display):
    __slots__ = ()

    @property
    def text(self) -> str:
        """The text blocks of the content, joined with newlines ("" when there are none)."""
        from ._models import TextContent

        content = cast("CallToolResult", self).content
        return "\n".join(block.text for block in content if isinstance(block, TextContent))

    def _plain(self) -> str:
        me = cast("CallToolResult", self)
        body = "\n".join(_plain_of(block) for block in me.content)
        if not me.content and me.structured_content is not None:
            body = _json(me.structured_content)
        if me.is_error:
            return f"Error: {body}" if body else "Error"
        return body

    def _html(self) -> str:
        me = cast("CallToolResult", self)
        parts = [_html_of(block) for block in me.content]
        if not me.content and me.structured_content is not None:
            parts.append(f"{_PRE}{_esc(_json(me.structured_content))}</pre>")
        if me.is_error:
            parts.insert(0, '<div style="color: #b00020; font-weight: bold">Error</div>')
            style = "border-left: 3px solid #b00020; padding-left: 6px"
            return f'<div style="{style}">{"".join(parts)}</div>'
        return "".join(parts)


class ReadResourceResultDisplay(_Display):
    __slots__ = ()

    @property
    def text(self) -> str:
        """The text contents, joined with newlines ("" when there are none)."""
        from ._models import TextResourceContents

        contents = cast("ReadResourceResult", self).contents
        return "\n".join(c.text for c in contents if isinstance(c, TextResourceContents))

    def _plain(self) -> str:
        return "\n".join(_plain_of(c) for c in cast("ReadResourceResult", self).contents)

    def _html(self) -> str:
        return "".join(_html_of(c) for c in cast("ReadResourceResult", self).contents)


class GetPromptResultDisplay(_Display):
    __slots__ = ()

    @property
    def text(self) -> str:
        """The text of the messages' text blocks, joined with newlines ("" when none)."""
        from ._models import TextContent

        messages = cast("GetPromptResult", self).messages
        return "\n".join(m.content.text for m in messages if isinstance(m.content, TextContent))

    def _plain(self) -> str:
        me = cast("GetPromptResult", self)
        lines = [me.description] if me.description else []
        lines += [f"{m.role}: {_plain_of(m.content)}" for m in me.messages]
        return "\n".join(lines)

    def _html(self) -> str:
        me = cast("GetPromptResult", self)
        parts = [f"<p><em>{_esc(me.description)}</em></p>"] if me.description else []
        for m in me.messages:
            parts.append(f"<div><b>{_esc(m.role)}</b>: {_html_of(m.content)}</div>")
        return "".join(parts)


class ToolDisplay(_Display):
    __slots__ = ()

    def _signature(self) -> str:
        me = cast("Tool", self)
        head = f"{me.name}({_parameters(me.input_schema)})"
        hints = me.annotations
        if hints is not None:
            words = [
                word
                for word, on in (
                    ("read-only", hints.read_only_hint),
                    ("destructive", hints.destructive_hint and not hints.read_only_hint),
                    ("idempotent", hints.idempotent_hint),
                    ("open-world", hints.open_world_hint),
                )
                if on
            ]
            if words:
                head += f" [{', '.join(words)}]"
        return head

    def _plain(self) -> str:
        return _described(self._signature(), cast("Tool", self).description)

    def _html(self) -> str:
        me = cast("Tool", self)
        return _described_html(f"<code>{_esc(self._signature())}</code>", me.description, me.title)


class PromptDisplay(_Display):
    __slots__ = ()

    def _signature(self) -> str:
        me = cast("Prompt", self)
        names = [f"{a.name}{'' if a.required else '?'}" for a in me.arguments or ()]
        return f"{me.name}({', '.join(names)})"

    def _plain(self) -> str:
        return _described(self._signature(), cast("Prompt", self).description)

    def _html(self) -> str:
        me = cast("Prompt", self)
        return _described_html(f"<code>{_esc(self._signature())}</code>", me.description, me.title)


class ResourceDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        me = cast("Resource", self)
        head = _resource_head(me.uri, me.mime_type, me.size)[0]
        return _described(f"{me.name} {head}", me.description)

    def _html(self) -> str:
        me = cast("Resource", self)
        head = _resource_head(me.uri, me.mime_type, me.size)[1]
        return _described_html(f"<b>{_esc(me.name)}</b> {head}", me.description, me.title)


class ResourceTemplateDisplay(_Display):
    __slots__ = ()

    def _plain(self) -> str:
        me = cast("ResourceTemplate", self)
        head = _resource_head(me.uri_template, me.mime_type, None)[0]
        return _described(f"{me.name} {head}", me.description)

    def _html(self) -> str:
        me = cast("ResourceTemplate", self)
        head = f"&lt;<code>{_esc(me.uri_template)}</code>&gt;"
        if me.mime_type:
            head += f" ({_esc(me.mime_type)})"
        return _described_html(f"<b>{_esc(me.name)}</b> {head}", me.description, me.title)

"""How models show themselves: ``str``, IPython's pretty printer, notebook HTML, ``.text``
and a ``repr`` that keeps base64 short; equality and the wire are untouched."""

from __future__ import annotations

import base64
from typing import Any

import attrs
import pytest

from duomcp._wire import from_wire, to_wire
from duomcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    Resource,
    ResourceLink,
    ResourceTemplate,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
    UnknownContent,
)
from duomcp.types._display import INLINE_LIMIT, format_size, short_base64

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


def b64(size: int, fill: bytes = b"\x89") -> str:
    return base64.b64encode(fill * size).decode()


PNG_DATA = b64(12595)  # 12.3 KiB
PNG = ImageContent(data=PNG_DATA, mime_type="image/png")


def pretty(value: Any) -> str:
    lib = pytest.importorskip("IPython.lib.pretty")
    return str(lib.pretty(value))


# -- sizes and repr ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (12595, "12.3 KiB"), (5 << 20, "5.0 MiB")],
)
def test_sizes_read_like_people_write_them(size: int, text: str) -> None:
    assert format_size(size) == text


def test_repr_keeps_its_attrs_shape_but_base64_is_cut_short() -> None:
    text = repr(PNG)
    assert text == (
        f"ImageContent(type='image', data={PNG_DATA[:16]!r}...(12595 bytes), "
        "mime_type='image/png', annotations=None, meta=None, extra={})"
    )
    big = CallToolResult(content=(ImageContent(data=b64(INLINE_LIMIT + 1), mime_type="image/png"),))
    assert len(repr(big)) < 300
    assert f"...({INLINE_LIMIT + 1} bytes)" in repr(big)
    blob = BlobResourceContents(uri="mem://blob", blob=b64(100_000))
    assert "...(100000 bytes)" in repr(ReadResourceResult(contents=(blob,)))
    audio = AudioContent(data=b64(3000), mime_type="audio/wav")
    assert "...(3000 bytes)" in repr(audio)


def test_short_base64_is_shown_whole() -> None:
    small = BlobResourceContents(uri="mem://blob", blob="AAAA")
    assert "blob='AAAA'" in repr(small)
    assert short_base64("AAAA") == "'AAAA'"
    assert short_base64(None) == "None"


def test_equality_frozen_evolve_and_wire_are_unchanged() -> None:
    other = ImageContent(data=PNG_DATA[:-8] + "AAAA" + PNG_DATA[-4:], mime_type="image/png")
    assert repr(other) == repr(PNG)  # the repr is cut short...
    assert other != PNG  # ...equality still sees every character
    assert ImageContent(data=PNG_DATA, mime_type="image/png") == PNG
    assert ImageContent.__hash__ is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        PNG.data = ""  # type: ignore[misc]
    assert attrs.evolve(PNG, mime_type="image/gif").data == PNG_DATA
    assert [f.name for f in attrs.fields(ImageContent)] == [
        "type",
        "data",
        "mime_type",
        "annotations",
        "meta",
        "extra",
    ]
    wire = {"type": "image", "data": PNG_DATA, "mimeType": "image/png"}
    assert to_wire(PNG) == wire
    assert from_wire(wire, ImageContent) == PNG
    result = CallToolResult(content=(TextContent(text="hi"), PNG))
    assert from_wire(to_wire(result), CallToolResult) == result
    assert "text" not in to_wire(result)  # `.text` is a property, not a field
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.is_error = True  # type: ignore[misc]


# -- content blocks ---------------------------------------------------------------------------


def test_text_block_is_its_text_and_escaped_in_html() -> None:
    block = TextContent(text=f"hello\n{SCRIPT}")
    assert str(block) == f"hello\n{SCRIPT}"
    assert pretty(block) == str(block)
    html = block._repr_html_()
    assert ESCAPED in html and "<script>" not in html


def test_image_is_summarised_in_text_and_inline_in_html() -> None:
    assert str(PNG) == "[image/png, 12.3 KiB]"
    assert pretty(PNG) == "[image/png, 12.3 KiB]"
    html = PNG._repr_html_()
    assert f'<img src="data:image/png;base64,{PNG_DATA}"' in html
    assert 'alt="[image/png, 12.3 KiB]"' in html


def test_an_image_over_the_inline_limit_is_a_summary() -> None:
    data = b64(INLINE_LIMIT + 3)
    image = ImageContent(data=data, mime_type="image/png")
    html = image._repr_html_()
    assert "<img" not in html and data[:100] not in html
    assert "[image/png, 5.0 MiB]" in html and "over the 5.0 MiB shown inline" in html
    assert str(image) == "[image/png, 5.0 MiB]"
    at_limit = ImageContent(data=b64(INLINE_LIMIT), mime_type="image/png")
    assert "<img" in at_limit._repr_html_()


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG_DATA + '" onerror="alert(1)', "image/png"),
        (PNG_DATA, 'image/png" onerror="alert(1)'),
        (PNG_DATA, "text/html"),
    ],
)
def test_nothing_but_valid_base64_of_a_plain_media_type_goes_inline(data: str, mime: str) -> None:
    html = ImageContent(data=data, mime_type=mime)._repr_html_()
    assert "<img" not in html and 'onerror="' not in html


def test_audio_gets_controls() -> None:
    audio = AudioContent(data=b64(3000), mime_type="audio/wav")
    assert str(audio) == "[audio/wav, 2.9 KiB]"
    assert f'<audio controls src="data:audio/wav;base64,{audio.data}"' in audio._repr_html_()


def test_resource_link_is_one_line_and_links_only_the_web() -> None:
    link = ResourceLink(name="greeting", uri="mem://greeting", mime_type="text/plain", size=16)
    assert str(link) == "[resource link: greeting <mem://greeting> (text/plain, 16 B)]"
    assert "<a " not in link._repr_html_()
    web = ResourceLink(name="doc", title="The <doc>", uri="https://example.com/?a=1&b=2")
    assert str(web) == "[resource link: The <doc> <https://example.com/?a=1&b=2>]"
    assert '<a href="https://example.com/?a=1&amp;b=2"' in web._repr_html_()
    assert "The &lt;doc&gt;" in web._repr_html_()
    script = ResourceLink(name="x", uri="javascript:alert(1)")
    assert "<a " not in script._repr_html_()


def test_embedded_resources_show_their_contents() -> None:
    text = EmbeddedResource(resource=TextResourceContents(uri="mem://a", text=SCRIPT))
    assert str(text) == SCRIPT
    assert ESCAPED in text._repr_html_() and "<script>" not in text._repr_html_()
    assert "<code>mem://a</code>" in text._repr_html_()
    blob = EmbeddedResource(
        resource=BlobResourceContents(uri="mem://blob", blob=b64(16), mime_type="application/zip")
    )
    assert str(blob) == "[mem://blob, application/zip, 16 B]"
    picture = BlobResourceContents(uri="mem://p.png", blob=PNG_DATA, mime_type="image/png")
    assert '<img src="data:image/png;base64,' in picture._repr_html_()
    assert str(BlobResourceContents(uri="mem://b", blob=b64(16))) == "[mem://b, binary, 16 B]"


# -- results ----------------------------------------------------------------------------------


def test_call_result_shows_its_blocks_and_joins_its_text() -> None:
    result = CallToolResult(
        content=(
            TextContent(text="first"),
            PNG,
            TextContent(text="second"),
            UnknownContent(type="hologram"),
        )
    )
    assert str(result) == "first\n[image/png, 12.3 KiB]\nsecond\n[hologram content]"
    assert pretty(result) == str(result)
    assert result.text == "first\nsecond"
    html = result._repr_html_()
    assert '<img src="data:image/png;base64,' in html and "first" in html
    assert "[hologram content]" in html


def test_call_result_shows_errors_and_escapes_html() -> None:
    result = CallToolResult(content=(TextContent(text=SCRIPT),), is_error=True)
    assert str(result) == f"Error: {SCRIPT}"
    html = result._repr_html_()
    assert "Error" in html and ESCAPED in html and "<script>" not in html
    assert str(CallToolResult(content=(), is_error=True)) == "Error"


def test_call_result_without_blocks() -> None:
    empty = CallToolResult(content=())
    assert str(empty) == "" and empty.text == ""
    structured = CallToolResult(content=(), structured_content={"result": 42})
    assert str(structured) == '{"result": 42}'
    assert "{&quot;result&quot;: 42}" in structured._repr_html_()
    only_image = CallToolResult(content=(PNG,))
    assert only_image.text == ""


def test_read_resource_result() -> None:
    result = ReadResourceResult(
        contents=(
            TextResourceContents(uri="mem://a", text="Hello", mime_type="text/plain"),
            BlobResourceContents(uri="mem://b", blob=b64(16), mime_type="application/zip"),
            TextResourceContents(uri="mem://c", text="World"),
        )
    )
    assert result.text == "Hello\nWorld"
    assert str(result) == "Hello\n[mem://b, application/zip, 16 B]\nWorld"
    assert pretty(result) == str(result)
    assert "Hello" in result._repr_html_()
    assert ReadResourceResult(contents=()).text == ""


def test_get_prompt_result() -> None:
    result = GetPromptResult(
        description="A greeting",
        messages=(
            PromptMessage(role="user", content=TextContent(text="Hi Ada")),
            PromptMessage(role="assistant", content=PNG),
            PromptMessage(role="assistant", content=TextContent(text=SCRIPT)),
        ),
    )
    assert result.text == f"Hi Ada\n{SCRIPT}"
    assert (
        str(result)
        == f"A greeting\nuser: Hi Ada\nassistant: [image/png, 12.3 KiB]\nassistant: {SCRIPT}"
    )
    assert pretty(result) == str(result)
    html = result._repr_html_()
    assert "<b>user</b>" in html and "<img" in html and ESCAPED in html and "<script>" not in html
    assert GetPromptResult(messages=()).text == ""


# -- what a server offers ---------------------------------------------------------------------


def test_tool_reads_like_a_signature() -> None:
    wire = {
        "name": "echo",
        "description": "Echo the text back.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    }
    echo = from_wire(wire, Tool)
    assert str(echo) == "echo(text: string) — Echo the text back."
    assert pretty(echo) == str(echo)
    assert "<code>echo(text: string)</code> — Echo the text back." in echo._repr_html_()


def test_tool_signature_shows_optional_defaults_and_hints() -> None:
    tool = Tool(
        name="flood",
        input_schema={
            "type": "object",
            "properties": {
                "count": {"type": "integer", "default": 10},
                "seconds": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "mode": {"enum": ["a", "b"]},
                "any": {},
            },
        },
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    assert str(tool) == (
        'flood(count: integer = 10, seconds?: number, tags?: string[], mode?: "a" | "b", '
        "any?: any) [read-only, idempotent]"
    )
    bare = Tool(name="ping", input_schema={"type": "object"})
    assert str(bare) == "ping()"


def test_tool_html_is_escaped() -> None:
    tool = Tool(name="x<y>", input_schema={"type": "object"}, description=SCRIPT, title='say "hi"')
    html = tool._repr_html_()
    assert "<script>" not in html and ESCAPED in html and "x&lt;y&gt;()" in html
    assert 'title="say &quot;hi&quot;"' in html


def test_multi_line_descriptions_are_indented() -> None:
    tool = Tool(name="t", input_schema={}, description="One.\nTwo.\n")
    assert str(tool) == "t() — One.\n    Two."


def test_prompt_resource_and_template() -> None:
    prompt = Prompt(
        name="greet",
        description="Greet someone.",
        arguments=(PromptArgument(name="name", required=True), PromptArgument(name="style")),
    )
    assert str(prompt) == "greet(name, style?) — Greet someone."
    assert str(Prompt(name="plain")) == "plain()"
    resource = Resource(
        name="greeting", uri="mem://greeting", mime_type="text/plain", description="A greeting."
    )
    assert str(resource) == "greeting <mem://greeting> (text/plain) — A greeting."
    assert (
        str(Resource(name="big", uri="file:///big", size=3 << 20)) == "big <file:///big> (3.0 MiB)"
    )
    template = ResourceTemplate(name="item", uri_template="mem://items/{id}", description=SCRIPT)
    assert str(template) == f"item <mem://items/{{id}}> — {SCRIPT}"
    for value in (prompt, resource, template):
        assert pretty(value) == str(value)
        assert value._repr_html_().startswith('<div class="duomcp">')
    assert ESCAPED in template._repr_html_() and "<script>" not in template._repr_html_()


def test_pretty_printer_in_a_cycle_does_not_recurse() -> None:
    class Printer:
        def __init__(self) -> None:
            self.out = ""

        def text(self, text: str) -> None:
            self.out += text

    printer = Printer()
    PNG._repr_pretty_(printer, cycle=True)
    assert printer.out == "ImageContent(...)"

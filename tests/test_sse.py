"""The SSE decoder: the WHATWG event-stream rules, size caps, and chunking independence."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duomcp.errors import MessageTooLargeError
from duomcp.transports._sse import ServerSentEvent, SSEDecoder

E = ServerSentEvent


def decode_chunks(chunks: list[bytes], **caps: int) -> tuple[list[ServerSentEvent], SSEDecoder]:
    """Feed ``chunks`` then close; return the events and the decoder."""
    decoder = SSEDecoder(**caps)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events, decoder


def decode(raw: bytes, **caps: int) -> list[ServerSentEvent]:
    return decode_chunks([raw], **caps)[0]


def split_at(raw: bytes, cuts: list[int]) -> list[bytes]:
    return [raw[a:b] for a, b in itertools.pairwise([0, *sorted(cuts), len(raw)])]


def bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


# -- table: whole streams ------------------------------------------------------------------

# (raw stream, events, last_event_id after the stream, retry after the stream)
STREAMS = [
    pytest.param(b"data: a\n\n", [E(data="a")], "", None, id="lf"),
    pytest.param(b"data: a\r\n\r\n", [E(data="a")], "", None, id="crlf"),
    pytest.param(b"data: a\r\r", [E(data="a")], "", None, id="cr"),
    pytest.param(
        b"data: a\r\ndata: b\rdata: c\ndata: d\r\r\n",
        [E(data="a\nb\nc\nd")],
        "",
        None,
        id="mixed line ends",
    ),
    pytest.param(
        b"data: a\n\rdata: b\r\n\n",
        [E(data="a"), E(data="b")],
        "",
        None,
        id="mixed blank lines",
    ),
    pytest.param(b"data: a\n\r\n", [E(data="a")], "", None, id="lf then crlf blank"),
    pytest.param(b"data: a\n\n\n\n", [E(data="a")], "", None, id="extra blank lines"),
    pytest.param(b"\xef\xbb\xbfdata: a\n\n", [E(data="a")], "", None, id="bom stripped"),
    pytest.param(
        b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n",
        [E(data="a")],
        "",
        None,
        id="bom on a later line kept (unknown field)",
    ),
    pytest.param(
        b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", [], "", None, id="only one leading bom stripped"
    ),
    pytest.param(b"\n\xef\xbb\xbfdata: a\n\n", [], "", None, id="bom after first line kept"),
    pytest.param(
        b"\xef\xbb\xbf:comment\ndata: a\n\n", [E(data="a")], "", None, id="bom before comment"
    ),
    pytest.param(b": keep-alive\ndata: a\n\n", [E(data="a")], "", None, id="comment"),
    pytest.param(
        b":\ndata: a\n:x\ndata: b\n\n", [E(data="a\nb")], "", None, id="comments inside block"
    ),
    pytest.param(b": only a comment\n\n", [], "", None, id="comment-only block"),
    pytest.param(
        b"data: a\ndata: b\ndata: c\n\n", [E(data="a\nb\nc")], "", None, id="multi-line data"
    ),
    pytest.param(
        b"data: a\ndata\ndata: b\n\n", [E(data="a\n\nb")], "", None, id="empty middle data line"
    ),
    pytest.param(b"data: a\ndata:\n\n", [E(data="a\n")], "", None, id="trailing empty data"),
    pytest.param(b"data:a\n\n", [E(data="a")], "", None, id="data without space"),
    pytest.param(b"data:  a \n\n", [E(data=" a ")], "", None, id="only one space removed"),
    pytest.param(b"data:\ta\n\n", [E(data="\ta")], "", None, id="tab not removed"),
    pytest.param(b"data: a:b: c\n\n", [E(data="a:b: c")], "", None, id="colon in value"),
    pytest.param(b"data : a\n\n", [], "", None, id="space before colon: unknown field"),
    pytest.param(b"Data: a\n\n", [], "", None, id="field names are case-sensitive"),
    pytest.param(
        b"event: ping\ndata: a\n\ndata: b\n\n",
        [E("ping", "a"), E(data="b")],
        "",
        None,
        id="event type reset after dispatch",
    ),
    pytest.param(
        b"event: ping\n\ndata: b\n\n",
        [E(data="b")],
        "",
        None,
        id="event type reset by undispatched block",
    ),
    pytest.param(
        b"event: x\nevent: y\ndata: a\n\n", [E("y", "a")], "", None, id="last event type wins"
    ),
    pytest.param(b"event:\ndata: a\n\n", [E(data="a")], "", None, id="empty event type"),
    pytest.param(b"event\ndata: a\n\n", [E(data="a")], "", None, id="event without colon"),
    pytest.param(
        b"id: 1\ndata: a\n\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
        "1",
        None,
        id="id persists across events",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
        "1",
        None,
        id="id with nul ignored",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid:\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="")],
        "",
        None,
        id="empty id resets",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="")],
        "",
        None,
        id="id without colon resets",
    ),
    pytest.param(b"id: 1\nid: 2\ndata: a\n\n", [E(data="a", id="2")], "2", None, id="last id wins"),
    pytest.param(
        b"id:  7 \ndata: a\n\n", [E(data="a", id=" 7 ")], " 7 ", None, id="id keeps spaces"
    ),
    pytest.param(b"retry: 500\ndata: a\n\n", [E(data="a", retry=500)], "", 500, id="retry"),
    pytest.param(b"retry: 0\ndata: a\n\n", [E(data="a", retry=0)], "", 0, id="retry zero"),
    pytest.param(
        b"retry: 007\ndata: a\n\n", [E(data="a", retry=7)], "", 7, id="retry leading zeros"
    ),
    pytest.param(
        b"retry: 500\ndata: a\n\ndata: b\n\n",
        [E(data="a", retry=500), E(data="b")],
        "",
        500,
        id="retry belongs to its block",
    ),
    pytest.param(b"retry: 1a\ndata: a\n\n", [E(data="a")], "", None, id="retry 1a ignored"),
    pytest.param(b"retry: -1\ndata: a\n\n", [E(data="a")], "", None, id="retry -1 ignored"),
    pytest.param(b"retry:\ndata: a\n\n", [E(data="a")], "", None, id="empty retry ignored"),
    pytest.param(b"retry:  5\ndata: a\n\n", [E(data="a")], "", None, id="retry with 2 spaces"),
    pytest.param(b"retry: 1.5\ndata: a\n\n", [E(data="a")], "", None, id="retry float ignored"),
    pytest.param(
        "retry: ٣\ndata: a\n\n".encode(),
        [E(data="a")],
        "",
        None,
        id="retry non-ascii digit ignored",
    ),
    pytest.param(
        b"retry: 10\nretry: x\ndata: a\n\n",
        [E(data="a", retry=10)],
        "",
        10,
        id="invalid retry keeps earlier",
    ),
    pytest.param(
        b"retry: 9" + b"9" * 5000 + b"\ndata: a\n\n",
        [E(data="a")],
        "",
        None,
        id="retry too long to parse ignored",
    ),
    pytest.param(b"retry: 250\n\n", [], "", 250, id="retry-only block: retry still set"),
    pytest.param(b"id: 5\ndata:\n\n", [E(data="", id="5")], "5", None, id="priming event"),
    pytest.param(
        b"id: 5\nretry: 10\ndata\n\n",
        [E(data="", id="5", retry=10)],
        "5",
        10,
        id="priming event, data without colon",
    ),
    pytest.param(b"id: 7\n\n", [], "7", None, id="id-only block not dispatched, id kept"),
    pytest.param(
        b"id: 7\n\ndata: a\n\n",
        [E(data="a", id="7")],
        "7",
        None,
        id="id from undispatched block carries over",
    ),
    pytest.param(b"foo: bar\ndata: a\nbaz\n\n", [E(data="a")], "", None, id="unknown field"),
    pytest.param(b"data\n\n", [E(data="")], "", None, id="data without colon"),
    pytest.param(b"data: a\n", [], "", None, id="incomplete event at eof discarded"),
    pytest.param(
        b"data: a\n\ndata: b", [E(data="a")], "", None, id="unterminated line at eof discarded"
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid: 2\ndata: b\n",
        [E(data="a", id="1")],
        "1",
        None,
        id="id of discarded event not committed",
    ),
    pytest.param(
        b"data: \xff\xfe\n\n", [E(data="\ufffd\ufffd")], "", None, id="invalid utf-8 replaced"
    ),
    pytest.param(
        b"data: \xe2\x9c\n\n", [E(data="\ufffd")], "", None, id="truncated utf-8 replaced"
    ),
    pytest.param(
        b"event: \xff\nid: \xc3\ndata: a\n\n",
        [E("\ufffd", "a", "\ufffd")],
        "\ufffd",
        None,
        id="invalid utf-8 in event and id",
    ),
    pytest.param(b"d\xffta: a\n\n", [], "", None, id="invalid utf-8 in field name"),
    pytest.param("data: héllo ✓ 😀\n\n".encode(), [E(data="héllo ✓ 😀")], "", None, id="utf-8"),
    pytest.param(b"data: a\x00b\n\n", [E(data="a\x00b")], "", None, id="nul in data kept"),
    pytest.param(b"", [], "", None, id="empty stream"),
]


@pytest.mark.parametrize(("raw", "events", "last_id", "retry"), STREAMS)
def test_stream(raw: bytes, events: list[ServerSentEvent], last_id: str, retry: int | None) -> None:
    got, decoder = decode_chunks([raw])
    assert got == events
    assert decoder.last_event_id == last_id
    assert decoder.retry == retry


@pytest.mark.parametrize(("raw", "events", "last_id", "retry"), STREAMS)
def test_stream_any_split(
    raw: bytes, events: list[ServerSentEvent], last_id: str, retry: int | None
) -> None:
    assert decode_chunks(bytewise(raw))[0] == events
    for cut in range(0, len(raw) + 1, max(1, len(raw) // 100)):
        got, decoder = decode_chunks(split_at(raw, [cut]))
        assert (got, decoder.last_event_id, decoder.retry) == (events, last_id, retry), cut


# -- table: explicit chunkings -------------------------------------------------------------

CHUNKED = [
    pytest.param([b"data: a\r", b"\n\n"], [E(data="a")], id="crlf split after cr"),
    pytest.param(
        [b"data: a\r", b"\ndata: b\r", b"\n\r\n"], [E(data="a\nb")], id="crlf split twice"
    ),
    pytest.param([b"data: a\r\n\r", b"\n"], [E(data="a")], id="blank crlf split"),
    pytest.param([b"data: a\r", b"\r"], [E(data="a")], id="cr cr split is two line ends"),
    pytest.param(
        [b"data: a\r", b"\rdata: b\n\n"], [E(data="a"), E(data="b")], id="cr then cr-led chunk"
    ),
    pytest.param(
        [b"data: a\r", b"", b"\n", b"data: b\n\n"],
        [E(data="a\nb")],
        id="empty chunk between cr and lf",
    ),
    pytest.param([b"data: a\r", b"\n", b"\n"], [E(data="a")], id="lf-only chunk after cr"),
    pytest.param(
        [b"data: a", b"\r", b"\n", b"\r", b"\n"], [E(data="a")], id="every line end byte alone"
    ),
    pytest.param([b"da", b"ta", b": ", b"a\n", b"\n"], [E(data="a")], id="field name split"),
    pytest.param([b"\xef", b"\xbb", b"\xbfdata: a\n\n"], [E(data="a")], id="bom split"),
    pytest.param([b"data: \xe2", b"\x9c", b"\x93\n\n"], [E(data="✓")], id="utf-8 character split"),
    pytest.param(
        [b"data: a\n\ndata: b\n\n"], [E(data="a"), E(data="b")], id="two events in one chunk"
    ),
]


@pytest.mark.parametrize(("chunks", "events"), CHUNKED)
def test_chunked(chunks: list[bytes], events: list[ServerSentEvent]) -> None:
    assert decode_chunks(chunks)[0] == events
    assert decode(b"".join(chunks)) == events


def test_events_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b\n\nda") == [E(data="a"), E(data="b")]
    assert decoder.feed(b"ta: c\n") == []
    assert decoder.feed(b"\n") == [E(data="c")]


def test_last_event_id_committed_only_by_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n") == [E(data="a", id="1")]
    assert decoder.last_event_id == "1"  # event 2 is not complete yet
    assert decoder.feed(b"\n") == [E(data="b", id="2")]
    assert decoder.last_event_id == "2"


def test_retry_takes_effect_before_the_blank_line() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 300\n")
    assert decoder.retry == 300


def test_close_resets_the_stream_but_keeps_id_and_retry() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"\xef\xbb\xbfid: 1\nretry: 20\ndata: a\n\nid: 2\nevent: x\ndata: b\nda")
    assert decoder.close() == []
    assert decoder.last_event_id == "1"
    assert decoder.retry == 20
    # a new stream (say, after reconnecting): its BOM is dropped, and nothing carries
    # over but the committed id
    assert decoder.feed(b"\xef\xbb\xbfta: c\ndata: d\n\n") == [E(data="d", id="1")]


def test_close_forgets_a_pending_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.close()
    assert decoder.feed(b"\n") == []  # a blank line of the new stream, nothing to dispatch
    assert decoder.feed(b"data: b\n\n") == [E(data="b")]


def test_caps_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_line_bytes=0)
    with pytest.raises(ValueError):
        SSEDecoder(max_event_bytes=0)


# -- caps ----------------------------------------------------------------------------------


def test_line_at_the_cap_is_accepted() -> None:
    assert decode(b"data: " + b"x" * 44 + b"\n\n", max_line_bytes=50) == [E(data="x" * 44)]


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"], ids=["lf", "cr", "crlf"])
def test_line_over_the_cap(end: bytes) -> None:
    with pytest.raises(MessageTooLargeError, match=r"SSE line of 51 bytes .* max_line_bytes cap"):
        decode(b"data: " + b"x" * 45 + end + end, max_line_bytes=50)


def test_long_comment_line_counts_too() -> None:
    with pytest.raises(MessageTooLargeError, match="max_line_bytes"):
        decode(b":" + b"x" * 60 + b"\n", max_line_bytes=50)


def test_line_over_the_cap_assembled_from_chunks() -> None:
    with pytest.raises(MessageTooLargeError, match="max_line_bytes"):
        decode_chunks([b"data: " + b"x" * 30, b"x" * 15 + b"\n\n"], max_line_bytes=50)


def test_endless_line_is_caught_while_buffering() -> None:
    decoder = SSEDecoder(max_line_bytes=1000)
    for _ in range(10):
        assert decoder.feed(b"x" * 100) == []  # 1000 bytes: at the cap, not over it
    with pytest.raises(MessageTooLargeError, match=r"1001 bytes without a line end"):
        decoder.feed(b"x")


def test_endless_line_after_complete_events() -> None:
    decoder = SSEDecoder(max_line_bytes=100)
    with pytest.raises(MessageTooLargeError, match="max_sse_line_bytes"):
        decoder.feed(b"data: a\n\n" + b"y" * 101)


def test_event_at_the_cap_is_accepted() -> None:
    raw = b"data: aaaa\n" * 10 + b"\n"  # 10 * 4 bytes + 9 newlines = 49 bytes
    assert decode(raw, max_event_bytes=49) == [E(data="\n".join(["aaaa"] * 10))]


def test_event_over_the_cap() -> None:
    with pytest.raises(
        MessageTooLargeError, match=r"data has reached 50 bytes.* max_event_bytes cap of 49"
    ):
        decode(b"data: aaaa\n" * 10 + b"data:\n\n", max_event_bytes=49)


def test_event_cap_is_per_event() -> None:
    raw = (b"data: aaaa\n" * 5 + b"\n") * 20
    assert len(decode(raw, max_event_bytes=30)) == 20


def test_event_cap_is_enforced_before_the_blank_line() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(MessageTooLargeError, match="max_message_bytes"):
        for _ in range(100):
            decoder.feed(b"data: " + b"z" * 40 + b"\n")


# -- properties ----------------------------------------------------------------------------


def reference_decode(raw: bytes) -> tuple[list[ServerSentEvent], str, int | None]:
    """A literal transcription of the standard, run on the whole decoded stream at once."""
    text = raw.decode("utf-8", "replace")
    text = text[1:] if text.startswith("\ufeff") else text
    *lines, _unterminated = re.split(r"\r\n|\r|\n", text)
    events: list[ServerSentEvent] = []
    data, etype = "", ""
    id_buffer: str | None = None
    last_id: str | None = None
    retry: int | None = None
    block_retry: int | None = None
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data == "":
                etype, block_retry = "", None
                continue
            data = data[:-1] if data.endswith("\n") else data
            events.append(E(etype or "message", data, id_buffer, block_retry))
            data, etype, block_retry = "", "", None
        elif line.startswith(":"):
            continue
        else:
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "event":
                etype = value
            elif name == "data":
                data += value + "\n"
            elif name == "id":
                if "\x00" not in value:
                    id_buffer = value
            elif name == "retry" and value and all(c in "0123456789" for c in value):
                retry = block_retry = int(value)
    return events, last_id or "", retry


any_char = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")
names = st.sampled_from(["data", "event", "id", "retry", "Data", "foo", "", "dat"])
values = st.one_of(
    st.text(any_char, max_size=12),
    st.sampled_from(["", " ", "1", " 25", "0012", "-1", "1a", "x\x00y", "message", " data"]),
)
line_end = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def arbitrary_streams(draw: st.DrawFn) -> bytes:
    """An arbitrary, often malformed stream: fields, comments, blank lines, stray bytes."""
    out = [b"\xef\xbb\xbf" if draw(st.booleans()) else b""]
    for _ in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(["field", "field", "field", "bare", "comment", "blank"]))
        if kind == "field":
            sep = draw(st.sampled_from([":", ": ", ":  "]))
            line = (draw(names) + sep + draw(values)).encode()
        elif kind == "bare":
            line = draw(names).encode()
        elif kind == "comment":
            line = b":" + draw(values).encode()
        else:
            line = b""
        if draw(st.integers(0, 9)) == 0:  # invalid UTF-8, or a BOM, somewhere
            junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x9c", b"\xef\xbb\xbf"]))
            at = draw(st.integers(0, len(line)))
            line = line[:at] + junk + line[at:]
        out.append(line + draw(line_end).encode())
    if draw(st.booleans()):
        out.append(draw(values).encode())  # an unterminated last line
    return b"".join(out)


@given(arbitrary_streams(), st.data())
def test_any_chunking_matches_the_reference(raw: bytes, data: st.DataObject) -> None:
    want_events, want_id, want_retry = reference_decode(raw)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=10), label="cuts")
    for chunks in ([raw], split_at(raw, cuts), bytewise(raw)):
        got, decoder = decode_chunks(chunks)
        assert got == want_events
        assert decoder.last_event_id == want_id
        assert decoder.retry == want_retry


# Events as a server would send them: data may hold newlines (sent as several data lines)
# but no CR, which the format cannot carry; ids and types hold no line ends.
event_strategy = st.builds(
    E,
    event=st.one_of(st.just("message"), st.text(any_char, min_size=1, max_size=10)),
    data=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=40),
    id=st.one_of(
        st.none(), st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"))
    ),
    retry=st.one_of(st.none(), st.integers(0, 10**12)),
)


def encode(draw: st.DrawFn, events: list[ServerSentEvent]) -> bytes:
    """A valid encoding of ``events`` with random line ends, field order, comments and
    spacing. An event's ``id`` is sent when it changes (and sometimes again)."""
    out = ["\ufeff" if draw(st.booleans()) else ""]
    in_force: str | None = None
    for event in events:
        fields = []
        if event.event != "message" or draw(st.booleans()):
            fields.append(f"event: {event.event}")
        if event.id is not None and (event.id != in_force or draw(st.booleans())):
            fields.append(f"id: {event.id}")
            in_force = event.id
        if event.retry is not None:
            fields.append(f"retry: {event.retry}")
        fields = draw(st.permutations(fields))
        for value in event.data.split("\n"):
            if value or draw(st.booleans()):
                space = " " if value.startswith(" ") or draw(st.booleans()) else ""
                fields.append(f"data:{space}{value}")
            else:
                fields.append("data")
        if draw(st.booleans()):
            fields.insert(draw(st.integers(0, len(fields))), ": comment")
        ends = [draw(line_end) for _ in fields]
        out.extend(field + end for field, end in zip(fields, ends, strict=True))
        blank = draw(line_end)
        if ends[-1] == "\r" and blank == "\n":
            blank = "\r\n"  # "\r" + "\n" would be one line end, not a blank line
        out.append(blank)
    return "".join(out).encode()


@st.composite
def encoded_streams(draw: st.DrawFn) -> tuple[list[ServerSentEvent], bytes]:
    """Events as decoded (an id, once set, stays in force), and an encoding of them."""
    events = draw(st.lists(event_strategy, max_size=8))
    in_force: str | None = None
    decoded = []
    for event in events:
        in_force = event.id if event.id is not None else in_force
        decoded.append(E(event.event, event.data, in_force, event.retry))
    return decoded, encode(draw, events)


@given(encoded_streams(), st.data())
def test_decode_inverts_encode(
    stream: tuple[list[ServerSentEvent], bytes], data: st.DataObject
) -> None:
    events, raw = stream
    assert decode(raw) == events
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=10), label="cuts")
    got, decoder = decode_chunks(split_at(raw, cuts))
    assert got == events
    assert reference_decode(raw)[0] == events
    ids = [e.id for e in events if e.id is not None]
    assert decoder.last_event_id == (ids[-1] if ids else "")
    retries = [e.retry for e in events if e.retry is not None]
    assert decoder.retry == (retries[-1] if retries else None)

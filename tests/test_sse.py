"""The SSE decoder: the WHATWG event-stream rules, caps, and chunking independence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duomcp.errors import MessageTooLargeError
from duomcp.transports._sse import ServerSentEvent, SSEDecoder


def decode(raw: bytes, **caps: int) -> list[ServerSentEvent]:
    decoder = SSEDecoder(**caps)
    return decoder.feed(raw) + decoder.close()


E = ServerSentEvent

CASES = [
    ("lf", b"data: a\n\n", [E(data="a")]),
    ("crlf", b"data: a\r\n\r\n", [E(data="a")]),
    ("cr", b"data: a\r\r", [E(data="a")]),
    ("mixed", b"data: a\r\ndata: b\rdata: c\n\n", [E(data="a\nb\nc")]),
    ("no space", b"data:a\n\n", [E(data="a")]),
    ("two spaces keep one", b"data:  a\n\n", [E(data=" a")]),
    ("bom", b"\xef\xbb\xbfdata: a\n\n", [E(data="a")]),
    ("comment", b": keep-alive\ndata: a\n\n", [E(data="a")]),
    ("event type", b"event: ping\ndata: a\n\ndata: b\n\n", [E("ping", "a"), E(data="b")]),
    ("id persists", b"id: 1\ndata: a\n\ndata: b\n\n", [E(data="a", id="1"), E(data="b", id="1")]),
    (
        "id with nul ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
    ),
    (
        "empty id resets",
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="")],
    ),
    ("retry", b"retry: 500\ndata: a\n\n", [E(data="a", retry=500)]),
    ("bad retry", b"retry: 1a\nretry: -1\ndata: a\n\n", [E(data="a")]),
    ("priming event", b"id: 5\nretry: 10\ndata:\n\n", [E(data="", id="5", retry=10)]),
    ("id-only block not dispatched", b"id: 7\n\n", []),
    ("unknown field", b"foo: bar\ndata: a\n\n", [E(data="a")]),
    ("field without colon", b"data\n\n", [E(data="")]),
    ("incomplete event dropped", b"data: a\n", []),
    ("invalid utf-8", b"data: \xff\xfe\n\n", [E(data="\ufffd\ufffd")]),
    ("utf-8", "data: héllo ✓\n\n".encode(), [E(data="héllo ✓")]),
]


@pytest.mark.parametrize(("raw", "events"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table(raw: bytes, events: list[ServerSentEvent]) -> None:
    assert decode(raw) == events


def test_second_bom_is_data() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n") == [E(data="a")]


def test_cr_lf_split_across_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [E(data="a\nb")]


def test_last_event_id_and_retry_visible_without_dispatch() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 9\nretry: 250\n\n") == []
    assert decoder.last_event_id == "9"
    assert decoder.retry == 250


def test_line_cap() -> None:
    with pytest.raises(MessageTooLargeError, match="line cap"):
        decode(b"data: " + b"x" * 100 + b"\n\n", max_line_bytes=50)


def test_endless_line_is_caught_while_buffering() -> None:
    decoder = SSEDecoder(max_line_bytes=1000)
    with pytest.raises(MessageTooLargeError):
        for _ in range(100):
            decoder.feed(b"x" * 100)


def test_event_cap() -> None:
    with pytest.raises(MessageTooLargeError, match="event cap"):
        decode(b"data: aaaa\n" * 10 + b"\n", max_event_bytes=50)


field_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=20
)
events_strategy = st.lists(
    st.tuples(
        st.one_of(
            st.none(),
            st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8),
        ),
        st.lists(field_text, min_size=1, max_size=3),
        st.one_of(st.none(), field_text),
        st.one_of(st.none(), st.integers(0, 10**6)),
    ),
    max_size=6,
)
line_end = st.sampled_from(["\n", "\r", "\r\n"])


def encode(
    events: list[tuple[str | None, list[str], str | None, int | None]], ends: list[str]
) -> bytes:
    out = []
    for i, (etype, data, eid, retry) in enumerate(events):
        end = ends[i % len(ends)]
        if etype is not None:
            out.append(f"event: {etype}{end}")
        if eid is not None:
            out.append(f"id: {eid}{end}")
        if retry is not None:
            out.append(f"retry: {retry}{end}")
        out.extend(f"data: {line}{end}" for line in data)
        out.append(end)
    return "".join(out).encode()


def expected(
    events: list[tuple[str | None, list[str], str | None, int | None]],
) -> list[ServerSentEvent]:
    out, last_id = [], None
    for etype, data, eid, retry in events:
        if eid is not None:
            last_id = eid
        out.append(E(etype or "message", "\n".join(data), last_id, retry))
    return out


@given(events_strategy, st.lists(line_end, min_size=1, max_size=3), st.data())
def test_any_chunking_gives_the_same_events(events, ends, data) -> None:  # type: ignore[no-untyped-def]
    raw = encode(events, ends)
    assert decode(raw) == expected(events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    decoder = SSEDecoder()
    got: list[ServerSentEvent] = []
    start = 0
    for cut in [*cuts, len(raw)]:
        got += decoder.feed(raw[start:cut])
        start = cut
    assert got == expected(events)


def test_id_of_an_unfinished_block_is_not_committed() -> None:
    """Resuming from an id whose event never fully arrived would skip that event."""
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b") == [E(data="a", id="1")]
    assert decoder.last_event_id == "1"
    assert decoder.feed(b"\n\n") == [E(data="b", id="2")]
    assert decoder.last_event_id == "2"


def test_empty_chunk_between_cr_and_lf() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r") + decoder.feed(b"") + decoder.feed(b"\ndata: b\n\n")
    assert events == [E(data="a\nb")]


def test_absurdly_long_retry_is_ignored() -> None:
    assert decode(b"retry: " + b"9" * 5000 + b"\ndata: a\n\n") == [E(data="a")]


def test_caps_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_line_bytes=0)

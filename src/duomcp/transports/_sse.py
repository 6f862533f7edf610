"""Server-sent events decoder following the WHATWG "event stream interpretation" rules.

:class:`SSEDecoder` is incremental: :meth:`SSEDecoder.feed` takes bytes as they arrive,
in any chunking, and returns the events they complete; any split of the same bytes gives
the same events. It works on bytes (``bytes.splitlines`` knows exactly the three SSE line
ends: CRLF, LF and CR) and decodes UTF-8 leniently, once per value, so a character split
across chunks is fine and invalid bytes become U+FFFD instead of an error.

Behaviour of note, all from the standard:

* one UTF-8 BOM at the very start of the stream is dropped, and only that one;
* a CR at the end of a chunk and an LF at the start of the next are one line end;
* the last event id is committed only when a blank line ends its block, so an event cut
  off by the end of the stream never advances :attr:`SSEDecoder.last_event_id` (resuming
  from it then replays the lost event instead of skipping it);
* a block with ``data`` lines is dispatched even if they were all empty (the data is
  then ``""``: MCP "priming" events are such blocks); a block without any ``data`` line
  is not dispatched, but its ``id`` and ``retry`` still count.

Lines and events are capped in size (:class:`~duomcp.errors.MessageTooLargeError`); a
line without a line end is checked while it is still buffering.
"""

from __future__ import annotations

import attrs

from ..errors import MessageTooLargeError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_CR = 0x0D
_COLON = 0x3A
# Python refuses to parse integers of more than 4300 digits; no real delay is that long.
_MAX_RETRY_DIGITS = 4000


@attrs.frozen
class ServerSentEvent:
    """One dispatched event."""

    event: str = "message"
    """The event type: ``message`` unless the block named another."""
    data: str = ""
    """The block's ``data`` lines joined by newlines (``""`` if they were all empty)."""
    id: str | None = None
    """The last event id in force at dispatch (it persists across events; ``""`` after
    the server reset it); ``None`` if the stream never set one."""
    retry: int | None = None
    """The reconnection time in milliseconds if this block had a valid ``retry`` field."""


class SSEDecoder:
    """Turns the bytes of a ``text/event-stream`` into :class:`ServerSentEvent` objects.

    Args:
        max_line_bytes: longest line accepted, line end excluded.
        max_event_bytes: largest data accepted in one event (its ``data`` values in bytes,
            with the newlines that join them).
    """

    __slots__ = (
        "_at_start",
        "_block_retry",
        "_cr_pending",
        "_data",
        "_data_size",
        "_event_type",
        "_id_buffer",
        "_last_event_id",
        "_max_event",
        "_max_line",
        "_partial",
        "_partial_size",
        "_retry",
    )

    def __init__(self, *, max_line_bytes: int = 1 << 20, max_event_bytes: int = 16 << 20) -> None:
        if max_line_bytes < 1 or max_event_bytes < 1:
            raise ValueError("SSE size caps must be positive")
        self._max_line = max_line_bytes
        self._max_event = max_event_bytes
        # stream state
        self._partial: list[bytes] = []  # pieces of a line whose end has not arrived
        self._partial_size = 0
        self._cr_pending = False  # the last chunk ended in CR: an LF right after is its end
        self._at_start = True  # no line completed yet: a leading BOM is still to be dropped
        self._last_event_id: str | None = None  # committed at each blank line
        self._id_buffer: str | None = None  # set by id fields; persists across events
        self._retry: int | None = None
        # block state, reset by each blank line
        self._data: list[bytes] = []
        self._data_size = 0
        self._event_type = ""
        self._block_retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The stream's last event id: ``""`` until a block with an ``id`` field has ended.

        Updated by every completed block, dispatched or not (an ``id``-only block counts),
        never by a block still open, so it is safe to resume from.
        """
        return self._last_event_id or ""

    @property
    def retry(self) -> int | None:
        """The most recent valid ``retry`` value (milliseconds), or ``None`` if none came."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next bytes of the stream; return the events they complete, in order.

        Raises:
            MessageTooLargeError: a line or an event's data exceeds its cap. The stream
                is then unusable: drop it (:meth:`close` resets the decoder).
        """
        if not chunk:
            return []
        if self._cr_pending:
            self._cr_pending = False
            if chunk[0] == _LF:  # second half of a CRLF split across chunks
                chunk = chunk[1:]
                if not chunk:
                    return []
        lines = chunk.splitlines()
        last = chunk[-1]
        if last == _LF:
            tail = b""
        elif last == _CR:
            tail = b""
            self._cr_pending = True
        else:
            tail = lines.pop()  # the start of a line whose end is yet to come
        if self._partial and lines:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial = []
            self._partial_size = 0
        if tail:
            self._partial.append(tail)
            self._partial_size += len(tail)
            if self._partial_size > self._max_line:
                raise MessageTooLargeError(
                    f"an SSE line has reached {self._partial_size} bytes without a line end, "
                    f"over the max_line_bytes cap of {self._max_line} bytes; raise the cap "
                    "(HTTPOptions.max_sse_line_bytes) if the server really sends such lines"
                )
        if not lines:
            return []
        if self._at_start:
            self._at_start = False
            if lines[0][:3] == _BOM:
                lines[0] = lines[0][3:]
        return self._interpret(lines)

    def close(self) -> list[ServerSentEvent]:
        """End of the stream: an unfinished event is discarded, as the standard says.

        Returns ``[]`` (an end of stream never completes an event) and resets the decoder
        for a next stream, e.g. after reconnecting, keeping :attr:`last_event_id` and
        :attr:`retry`; an ``id`` of the discarded block is forgotten.
        """
        self._partial = []
        self._partial_size = 0
        self._cr_pending = False
        self._at_start = True
        self._id_buffer = self._last_event_id
        self._data = []
        self._data_size = 0
        self._event_type = ""
        self._block_retry = None
        return []

    def _interpret(self, lines: list[bytes]) -> list[ServerSentEvent]:
        """Apply complete lines (line ends removed) to the decoder's state."""
        # the block's state lives in locals while the lines are walked (this is the hot
        # loop), and goes back to the attributes at the end
        events: list[ServerSentEvent] = []
        max_line = self._max_line
        data = self._data
        data_size = self._data_size
        event_type = self._event_type
        id_buffer = self._id_buffer
        block_retry = self._block_retry
        for line in lines:
            if not line:  # blank line: dispatch the block
                self._last_event_id = id_buffer
                if data:
                    raw = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(
                        ServerSentEvent(
                            event_type or "message",
                            raw.decode("utf-8", "replace"),
                            id_buffer,
                            block_retry,
                        )
                    )
                    data = []
                    data_size = 0
                event_type = ""
                block_retry = None
                continue
            if len(line) > max_line:
                raise MessageTooLargeError(
                    f"an SSE line of {len(line)} bytes exceeds the max_line_bytes cap of "
                    f"{max_line} bytes; raise the cap (HTTPOptions.max_sse_line_bytes) if the "
                    "server really sends such lines"
                )
            if line[0] == _COLON:  # comment
                continue
            # a line without a colon is a field name alone, with an empty value
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                if data:
                    data_size += 1 + len(value)
                else:
                    data_size = len(value)
                if data_size > self._max_event:
                    raise MessageTooLargeError(
                        f"an SSE event's data has reached {data_size} bytes, over the "
                        f"max_event_bytes cap of {self._max_event} bytes; raise the cap "
                        "(HTTPOptions.max_message_bytes) if the server really sends such events"
                    )
                data.append(value)
            elif name == b"event":
                event_type = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\x00" not in value:
                    id_buffer = value.decode("utf-8", "replace")
            elif name == b"retry":
                # bytes.isdigit() is true for ASCII digits only, and false for b""
                if value.isdigit():
                    digits = value.lstrip(b"0") or b"0"
                    if len(digits) <= _MAX_RETRY_DIGITS:
                        self._retry = block_retry = int(digits)
            # any other field is ignored
        self._data = data
        self._data_size = data_size
        self._event_type = event_type
        self._id_buffer = id_buffer
        self._block_retry = block_retry
        return events

"""Server-sent events decoder following the WHATWG event-stream interpretation rules.

Incremental: :meth:`SSEDecoder.feed` takes bytes as they arrive, in any chunking, and
returns the events completed so far. Lines end in CRLF, LF or CR; a leading BOM is
dropped; comments are skipped; ``id`` values holding NUL are ignored; ``retry`` must be
all digits. Lines and events are capped in size, and invalid UTF-8 is replaced, never
fatal.
"""

from __future__ import annotations

import attrs

from ..errors import MessageTooLargeError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"


@attrs.frozen
class ServerSentEvent:
    """One dispatched event."""

    event: str = "message"
    """The event type (``message`` unless the stream named another)."""
    data: str = ""
    """The event's data lines joined by newlines."""
    id: str | None = None
    """The last event id in force when the event was dispatched, if any was set."""
    retry: int | None = None
    """The reconnection time in ms set by this event's block, if it had a valid one."""


class SSEDecoder:
    """Turns a byte stream into :class:`ServerSentEvent` objects."""

    def __init__(self, *, max_line_bytes: int = 1 << 20, max_event_bytes: int = 16 << 20) -> None:
        if max_line_bytes <= 0 or max_event_bytes <= 0:
            raise ValueError("SSE size caps must be positive")
        self._max_line = max_line_bytes
        self._max_event = max_event_bytes
        self._buffer = b""
        self._pending_cr = False  # the last chunk ended in CR: skip one LF that follows
        self._first_line = True
        self._event_type = ""
        self._data: list[str] = []
        self._data_size = 0
        self._has_data = False
        self._block_retry: int | None = None
        self._last_event_id = ""  # committed: only a blank line commits the buffer
        self._id_buffer = ""
        self._id_set = False
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The stream's last event id, as committed by the last complete event block.

        An ``id`` whose block has not ended yet does not count: resuming from it would
        skip an event that never fully arrived.
        """
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The most recent valid ``retry`` value, in milliseconds."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode more bytes; return the events they complete.

        Raises:
            MessageTooLargeError: a line or an event's data exceeds its cap.
        """
        if not chunk:
            return []
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._pending_cr = False
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[ServerSentEvent] = []
        start = 0
        size = len(buffer)
        while start < size:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, lf if lf >= 0 else size)
            if cr >= 0:
                end, nxt = cr, cr + 1
                if nxt < size:
                    if buffer[nxt] == 0x0A:
                        nxt += 1
                else:
                    self._pending_cr = True
            elif lf >= 0:
                end, nxt = lf, lf + 1
            else:
                break
            if end - start > self._max_line:
                self._line_too_long(end - start)
            event = self._line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = nxt
        self._buffer = buffer[start:]
        if len(self._buffer) > self._max_line:
            self._line_too_long(len(self._buffer))
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: an unfinished event is discarded (per the standard); resets."""
        self._buffer = b""
        self._pending_cr = False
        self._id_buffer = self._last_event_id  # the discarded block's id never counted
        self._reset_block()
        return []

    def _line_too_long(self, size: int) -> None:
        raise MessageTooLargeError(
            f"an SSE line of {size}+ bytes exceeds the {self._max_line}-byte line cap "
            "(raise max_sse_line_bytes)"
        )

    def _reset_block(self) -> None:
        self._event_type = ""
        self._data = []
        self._data_size = 0
        self._has_data = False
        self._block_retry = None

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if self._first_line:
            self._first_line = False
            if raw.startswith(_BOM):
                raw = raw[3:]
        if not raw:
            return self._dispatch()
        if raw[0] == 0x3A:  # ":" comment
            return None
        line = raw.decode("utf-8", "replace")
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data_size += len(raw)
            if self._data_size > self._max_event:
                raise MessageTooLargeError(
                    f"an SSE event of {self._data_size}+ bytes exceeds the "
                    f"{self._max_event}-byte event cap (raise max_message_bytes)"
                )
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\x00" not in value:
                self._id_buffer = value
                self._id_set = True
        elif name == "retry":
            # 15 digits are plenty (centuries); longer values are ignored rather than
            # handed to int(), which refuses strings of thousands of digits
            if value and len(value) <= 15 and value.isascii() and value.isdigit():
                self._retry = self._block_retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self._last_event_id = self._id_buffer
        if not self._has_data:
            self._reset_block()
            return None
        event = ServerSentEvent(
            event=self._event_type or "message",
            data="\n".join(self._data),
            id=self._id_buffer if self._id_set else None,
            retry=self._block_retry,
        )
        self._reset_block()
        return event

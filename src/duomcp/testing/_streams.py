"""SSE streams kept as bounded event logs, so a resuming client can be sent what it missed.

Every event of a stream has the id ``<stream-id>:<seq>``; stream ids are unique within a
session (``g`` is the session's GET stream, ``s<n>`` the reply stream of a POST), so event
ids are unique within the session and name the stream a ``Last-Event-ID`` belongs to.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import attrs

__all__ = ["MAX_EVENTS", "Event", "EventStream", "parse_event_id"]

MAX_EVENTS = 1000
"""Events kept per stream; older ones are dropped and can no longer be replayed."""

EventKind = Literal["priming", "message", "response"]


@attrs.frozen
class Event:
    """One stored SSE event: JSON text, or empty data for a priming event."""

    kind: EventKind
    data: str = ""
    retry_ms: int | None = None

    def frame(self, event_id: str | None) -> bytes:
        """The event on the wire; a priming event carries ``retry`` when it was asked for.

        Without ``event_id`` (modern era: no resumption) the event has no ``id`` field.
        """
        lines = [f"id: {event_id}"] if event_id is not None else []
        if self.retry_ms is not None:
            lines.append(f"retry: {self.retry_ms}")
        lines.append(f"data: {self.data}" if self.data else "data:")
        return ("\n".join(lines) + "\n\n").encode()


def parse_event_id(event_id: str) -> tuple[str, int] | None:
    """Split ``<stream-id>:<seq>``; None when the id is not one of ours."""
    stream_id, sep, seq = event_id.strip().rpartition(":")
    if not sep or not stream_id or not seq.isdigit():
        return None
    return stream_id, int(seq)


class EventStream:
    """One SSE stream of a session: an append-only log that readers follow.

    A reply stream is ``done`` once every response it carries has been appended; the GET
    stream is done when its session ends. ``cursor`` is the last sequence number written
    to a connection: a fresh GET (no ``Last-Event-ID``) goes on after it.
    """

    def __init__(self, stream_id: str) -> None:
        self.id = stream_id
        self.first = 0  # sequence number of events[0]; earlier ones were dropped
        self.events: list[Event] = []
        self.done = False
        self.cursor = -1
        self.reader: asyncio.Task[object] | None = None  # serving the GET stream
        self.reader_transport: asyncio.BaseTransport | None = None
        self._wake = asyncio.Event()

    @property
    def end(self) -> int:
        """The sequence number the next event gets."""
        return self.first + len(self.events)

    def has_live_reader(self) -> bool:
        """Whether a connection is reading this stream and has not gone away."""
        transport = self.reader_transport
        return (
            self.reader is not None
            and not self.reader.done()
            and transport is not None
            and not transport.is_closing()
        )

    def event_id(self, seq: int) -> str:
        """The SSE id of event ``seq``."""
        return f"{self.id}:{seq}"

    def append(self, event: Event) -> int | None:
        """Store ``event``; its sequence number, or None when the stream has ended."""
        if self.done:
            return None
        self.events.append(event)
        self._trim()
        self._signal()
        return self.end - 1

    def insert_after_cursor(self, event: Event) -> int:
        """Store ``event`` before anything no connection has been sent yet (GET priming).

        Events after the cursor were never written anywhere, so renumbering them changes
        no id a client has seen.
        """
        position = max(self.cursor + 1 - self.first, 0)
        self.events.insert(position, event)
        self._trim()
        self._signal()
        return self.first + position

    def finish(self) -> None:
        """End the stream: readers send what is left, then end their responses."""
        self.done = True
        self._signal()

    async def next_event(self, seq: int) -> tuple[int, Event] | None:
        """Wait for event ``seq`` (or the oldest kept after it); None once the stream ends."""
        while True:
            seq = max(seq, self.first)
            if seq < self.end:
                return seq, self.events[seq - self.first]
            if self.done:
                return None
            await self._wake.wait()

    def _trim(self) -> None:
        excess = len(self.events) - MAX_EVENTS
        if excess > 0:
            del self.events[:excess]
            self.first += excess

    def _signal(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

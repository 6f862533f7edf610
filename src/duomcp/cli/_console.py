"""What the ``duomcp`` command shows on stderr while it works, and asks on the terminal.

The server's log messages, a progress line, a notice when a stdio server keeps quiet, and
the questions of an elicitation. Plain ANSI, only when stderr is a terminal (and
``$NO_COLOR`` is not set).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["LEVELS", "Console", "Elicitor", "ProgressLine", "ServerLog", "Watchdog"]

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""MCP log levels (RFC 5424 severities), least severe first."""

_COLORS = {"debug": "2", "info": "36", "notice": "36", "warning": "33"}  # dim, cyan, yellow
_ERROR_COLOR = "31"  # red: error and above


class Console:
    """Lines on stderr, and at most one transient line (progress) that the next line
    replaces. Thread-safe: callbacks come from the client's threads."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self._lock = threading.Lock()
        self._transient = False

    def paint(self, text: str, code: str) -> str:
        """``text`` in an ANSI color (``code``), when stderr shows colors."""
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def line(self, text: str) -> None:
        """Print a line (after clearing a transient one)."""
        with self._lock:
            self._clear()
            self._write(text + "\n")

    def transient(self, text: str) -> None:
        """Show ``text`` in place of the previous transient line (a terminal), or as a line
        of its own (anything else: a log file gets every step)."""
        with self._lock:
            if not self.tty:
                self._write(text + "\n")
                return
            width = _columns() - 1
            if len(text) > width:
                text = text[: max(width - 1, 0)] + "…"
            self._write(f"\r{text}\x1b[K")
            self._transient = True

    def end_transient(self) -> None:
        """Take a transient line away."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self._transient:
            self._write("\r\x1b[K")
            self._transient = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed: nothing to tell anyone
            pass


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _columns() -> int:
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return columns if columns > 10 else 80  # a terminal that says no size: 80


def _number(value: float) -> str:
    return f"{value:g}"


class ProgressLine:
    """``on_progress`` for a call: ``progress 2/3 (67%) step 2 of 3``, one updating line
    on a terminal, plain lines elsewhere."""

    def __init__(self, console: Console, label: str) -> None:
        self._console = console
        self._label = label
        self._shown = False

    def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        """Show one progress report."""
        text = f"{self._label}: {_number(progress)}"
        if total:
            text += f"/{_number(total)} ({min(progress / total, 1.0):.0%})"
        if message:
            text += f" {' '.join(message.split())}"
        self._shown = True
        self._console.transient(text)

    def done(self) -> None:
        """The call ended: take the line away."""
        if self._shown:
            self._console.end_transient()


class ServerLog:
    """``on_logging_message``: the server's log messages at or above ``threshold`` on
    stderr, as ``server warning [logger]: text``."""

    def __init__(self, console: Console, threshold: str | None) -> None:
        self._console = console
        self.threshold = threshold
        """The least severe level shown; ``None``: none shown."""

    @property
    def _rank(self) -> int:
        return LEVELS.index(self.threshold) if self.threshold in LEVELS else len(LEVELS)

    def __call__(self, entry: Any) -> None:
        """Show one ``notifications/message`` (a ``LoggingMessageNotificationParams``)."""
        level = str(entry.level)
        rank = LEVELS.index(level) if level in LEVELS else LEVELS.index("warning")
        if rank < self._rank:
            return
        data = entry.data
        if isinstance(data, Mapping) and isinstance(data.get("message"), str) and len(data) == 1:
            data = data["message"]
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        where = f" [{entry.logger}]" if entry.logger else ""
        code = _COLORS.get(level, _ERROR_COLOR)
        self._console.line(self._console.paint(f"server {level}{where}:", code) + f" {text}")


class Watchdog:
    """Tells on stderr when a stdio server has said nothing for ``after`` seconds while
    the command waits for it: ``still waiting for CMD (started 5 s ago)...``.

    A wait is marked with :meth:`waiting`; anything heard from the server (a reply, a
    notification, progress) starts the silence over; :meth:`paused` covers the time the
    server waits for the user (an elicitation). Once per silence.
    """

    def __init__(self, console: Console, what: str, after: float) -> None:
        self._console = console
        self._what = what
        self._after = after
        self._started = time.monotonic()
        self._last = self._started
        self._waits = 0
        self._pauses = 0
        self._told = False
        self._stopped = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Mark a wait for the server (a call, the connection)."""
        if self._after <= 0:
            yield
            return
        with self._wake:
            self._waits += 1
            self._heard()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="duomcp-watchdog", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._wake:
                self._waits -= 1
                self._heard()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Mark time the server is waiting for the user, not the other way round."""
        with self._wake:
            self._pauses += 1
        try:
            yield
        finally:
            with self._wake:
                self._pauses -= 1
                self._heard()

    def heard(self, *_: Any) -> None:
        """The server said something (usable as any callback)."""
        with self._wake:
            self._heard()

    def _heard(self) -> None:
        self._last = time.monotonic()
        self._told = False
        self._wake.notify_all()

    def stop(self) -> None:
        """End the watching thread."""
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(1)

    def _watch(self) -> None:
        with self._wake:
            while not self._stopped:
                now = time.monotonic()
                quiet = self._waits > 0 and self._pauses == 0 and not self._told
                due = self._last + self._after
                if quiet and now >= due:
                    self._told = True
                    ago = round(now - self._started)
                    self._console.line(
                        f"duomcp: still waiting for {self._what} (started {ago} s ago)..."
                    )
                    continue
                self._wake.wait(max(due - now, 0.05) if quiet else None)


class Elicitor:
    """``elicitation_handler``: asks the user on the terminal, field by field (stdin a
    terminal); otherwise declines, saying so on stderr."""

    def __init__(
        self,
        console: Console,
        interactive: bool,
        pause: Callable[[], Any],
        read: Callable[[], str] | None = None,
    ) -> None:
        self._console = console
        self._interactive = interactive
        self._pause = pause
        self._read = read or sys.stdin.readline
        self._lock = threading.Lock()  # one form at a time on one terminal

    def __call__(self, params: Any) -> Any:
        """Answer one ``elicitation/create`` (form or URL mode) with an ``ElicitResult``."""
        from ..types import ElicitResult

        if not self._interactive:
            self._console.line(
                f"duomcp: the server asked for input ({_short(params.message)!r}); declined, "
                "as stdin is not a terminal"
            )
            return ElicitResult(action="decline")
        with self._lock, self._pause():
            self._console.end_transient()
            try:
                if getattr(params, "mode", None) == "url":
                    return self._url(params)
                return self._form(params)
            except EOFError:
                self._say("(cancelled)")
                return ElicitResult(action="cancel")

    def _say(self, text: str) -> None:
        self._console.line(text)

    def _ask(self, prompt: str) -> str:
        self._console.stream.write(prompt)
        self._console.stream.flush()
        line = self._read()
        if not line:
            raise EOFError
        return line.strip()

    def _url(self, params: Any) -> Any:
        from ..types import ElicitResult

        self._say(f"The server asks: {params.message}")
        self._say(f"  open {params.url}")
        answer = self._ask("Done there? [y/N] ").lower()
        return ElicitResult(action="accept" if answer in ("y", "yes") else "decline")

    def _form(self, params: Any) -> Any:
        from ..types import ElicitResult

        schema = params.requested_schema or {}
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        self._say(f"The server asks: {params.message}  (Ctrl-D to cancel)")
        if properties:
            answer = self._ask("Answer? [Y/n] ").lower()
            if answer in ("n", "no"):
                return ElicitResult(action="decline")
        content: dict[str, Any] = {}
        for name, spec in properties.items():
            spec = spec if isinstance(spec, Mapping) else {}
            value = self._field(name, spec, name in required)
            if value is not _SKIP:
                content[name] = value
        return ElicitResult(action="accept", content=content)

    def _field(self, name: str, spec: Mapping[str, Any], required: bool) -> Any:
        title = spec.get("title") or name
        kind = spec.get("type", "string")
        choices = _choices(spec)
        if spec.get("description"):
            self._say(f"  {spec['description']}")
        if choices:
            for number, (_, label) in enumerate(choices, 1):
                self._say(f"    {number}) {label}")
        default = spec.get("default")
        hint = kind if not choices else f"1-{len(choices)}"
        if kind == "boolean":
            hint = "y/n"
        shown = ""
        if default is not None:
            shown = ("y" if default else "n") if kind == "boolean" else str(default)
        prompt = f"  {title} ({hint}{', required' if required else ''})"
        prompt += f" [{shown}]: " if shown else ": "
        while True:
            text = self._ask(prompt)
            if not text:
                if default is not None:
                    return default
                if not required:
                    return _SKIP
                self._say("    an answer is required")
                continue
            try:
                return _read_value(text, kind, choices, spec)
            except ValueError as exc:
                self._say(f"    {exc}")


_SKIP = object()


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _choices(spec: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """An enum's values with their labels (``enumNames``, or ``oneOf`` of ``const`` and
    ``title``)."""
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        names = spec.get("enumNames")
        labels = names if isinstance(names, list) and len(names) == len(enum) else enum
        return [(value, str(label)) for value, label in zip(enum, labels, strict=True)]
    options = spec.get("oneOf") or spec.get("anyOf")
    if isinstance(options, list) and all(isinstance(o, Mapping) and "const" in o for o in options):
        return [(o["const"], str(o.get("title", o["const"]))) for o in options]
    return []


def _read_value(
    text: str, kind: Any, choices: list[tuple[Any, str]], spec: Mapping[str, Any]
) -> Any:
    if choices:
        for value, label in choices:
            if text in (str(value), label):
                return value
        if text.isdigit() and 1 <= int(text) <= len(choices):
            return choices[int(text) - 1][0]
        raise ValueError(f"choose 1-{len(choices)}")
    if kind == "boolean":
        if text.lower() in ("y", "yes", "true", "1"):
            return True
        if text.lower() in ("n", "no", "false", "0"):
            return False
        raise ValueError("answer y or n")
    if kind in ("integer", "number"):
        try:
            number: float = int(text) if kind == "integer" else float(text)
        except ValueError:
            raise ValueError(
                f"a{'n integer' if kind == 'integer' else ' number'}, please"
            ) from None
        low, high = spec.get("minimum"), spec.get("maximum")
        if isinstance(low, (int, float)) and number < low:
            raise ValueError(f"at least {low}")
        if isinstance(high, (int, float)) and number > high:
            raise ValueError(f"at most {high}")
        return number
    return text

"""Waiting for something a callback does, in either client flavour, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def async_wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` on the running loop until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


async def async_pause(seconds: float) -> None:
    """Sleep without blocking the loop (the blocking twin sleeps its thread)."""
    await asyncio.sleep(seconds)


def pause(seconds: float) -> None:
    """Sleep this thread."""
    time.sleep(seconds)

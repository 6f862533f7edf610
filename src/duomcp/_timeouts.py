"""``wait_for`` that never loses the caller's cancellation.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that comes in the same turn of
the loop as the awaited thing's result (CPython gh-86296): the caller carries on as if
never cancelled. 3.12 rebuilt ``wait_for`` on ``asyncio.timeout``, which tells the two
apart by the task's cancel count; on 3.11 this module does the same. 3.10 has no cancel
counts, and keeps its own ``wait_for``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["wait_for"]

_T = TypeVar("_T")

if sys.version_info[:2] == (3, 11):

    async def wait_for(aw: Awaitable[_T], timeout: float | None) -> _T:
        """Await ``aw`` in this task for at most ``timeout`` seconds (``None``: no limit);
        :class:`TimeoutError` when it runs out (``aw`` is then cancelled)."""
        async with asyncio.timeout(timeout):
            return await aw

else:
    wait_for = asyncio.wait_for

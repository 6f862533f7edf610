"""A module imported on first use, so ``import duomcp`` does not pay for it up front.

aiohttp costs ~130 ms to import (most of it creating its default SSL contexts); a program
that imports duomcp pays that when it first creates a client, not at start-up.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule"]


class LazyModule:
    """Stands in for a module and imports it at the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

"""A module imported on first use, so ``import duomcp`` does not pay for it up front.

aiohttp costs about 200 ms to import, a third of it loading the system's CA certificates
into its default SSL contexts; with it imported lazily, a program pays that when it first
connects, and a command that only parses its arguments or prints help never does.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule"]


class LazyModule:
    """Stands in for a module and imports it at the first attribute access.

    Each attribute read is then kept on the instance, so later reads cost what reading an
    attribute of the module itself costs (no ``__getattr__`` call).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        value = getattr(module, attr)
        setattr(self, attr, value)
        return value

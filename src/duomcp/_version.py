"""The one version string of duomcp: the installed package's metadata (``pyproject.toml``).

Read once, on first use, so ``import duomcp`` does not pay for ``importlib.metadata``.
"""

from __future__ import annotations

import functools

__all__ = ["version"]


@functools.lru_cache(maxsize=1)
def version() -> str:
    """The version of the installed duomcp package (``"0"`` when run from a bare tree)."""
    from importlib import metadata

    try:
        return metadata.version("duomcp")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "0"

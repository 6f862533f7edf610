"""The one version string of duomcp, for ``__version__``, ``clientInfo`` and the package
metadata (``pyproject.toml`` reads it from here: hatch's dynamic version).

A constant, so that neither ``import duomcp`` nor the first connection pays for
``importlib.metadata`` (about 15 ms of a cold start).
"""

from __future__ import annotations

__all__ = ["__version__", "version"]

__version__ = "0.1.0.dev0"


def version() -> str:
    """The version of duomcp."""
    return __version__

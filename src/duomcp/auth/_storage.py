"""Where OAuth client registrations and tokens are kept between runs."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from .._executors import STORAGE

__all__ = ["FileTokenStorage", "MemoryTokenStorage", "TokenStorage", "default_cache_dir"]


class TokenStorage(Protocol):
    """A key-value store of JSON objects for registrations (by issuer) and tokens
    (by issuer, resource and client)."""

    async def load(self, key: str) -> dict[str, Any] | None:
        """Return the object stored under ``key``, or ``None``."""
        ...

    async def save(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; no error when it is absent."""
        ...


class MemoryTokenStorage:
    """Keeps everything in this process only (the default)."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    async def load(self, key: str) -> dict[str, Any] | None:
        """Return the object stored under ``key``, or ``None``."""
        value = self._data.get(key)
        return None if value is None else dict(value)

    async def save(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``key``."""
        self._data[key] = dict(value)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._data.pop(key, None)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/duomcp/oauth``, else ``~/.cache/duomcp/oauth``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "duomcp" / "oauth"


class FileTokenStorage:
    """One JSON file per key in a private folder (0700), each file 0600, written
    atomically (temporary file + rename), so tokens survive a restart."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".json")

    async def load(self, key: str) -> dict[str, Any] | None:
        """Return the object stored under ``key``, or ``None`` (also for a corrupt file)."""
        return await STORAGE.run(self._load, key)

    async def save(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``key`` atomically, readable by the owner only."""
        await STORAGE.run(self._save, key, value)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        await STORAGE.run(functools.partial(self._path(key).unlink, missing_ok=True))

    def _load(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        value = data.get("value")
        return value if isinstance(value, dict) else None

    def _save(self, key: str, value: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"key": key, "value": value}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

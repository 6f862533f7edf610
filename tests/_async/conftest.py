"""Fixtures of this flavour (the generated twin pairs them by name)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from duomcp import AsyncClient
from duomcp.testing import ReferenceServer


@pytest.fixture
async def async_client(server: ReferenceServer) -> AsyncIterator[AsyncClient]:
    """A connected client of the test's reference server."""
    async with AsyncClient(server.url, timeout=10) as client:
        yield client

# Generated from tests/_async/conftest.py by codegen/unasync.py -- do not edit.
# Change the async original and run: python codegen/unasync.py
"""Fixtures of this flavour (the generated twin pairs them by name)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from duomcp import Client
from duomcp.testing import ReferenceServer


@pytest.fixture
def client(server: ReferenceServer) -> Iterator[Client]:
    """A connected client of the test's reference server."""
    with Client(server.url, timeout=10) as client:
        yield client

"""A person signing in, slowly: follows the authorization URL to its redirect.

A plain function (run in a worker thread by OAuth), so both client flavours use it.
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit


class SlowBrowser:
    """Waits ``delay`` seconds (the person reading the page), then approves."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.logins = 0

    def __call__(self, url: str) -> str:
        self.logins += 1
        time.sleep(self.delay)
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            assert response.status == 302, response.read()
            return response.headers["Location"]
        finally:
            connection.close()

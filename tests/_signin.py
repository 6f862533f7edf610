"""A person signing in, slowly: follows the authorization URL to its redirect.

A plain function (run in a worker thread by OAuth), so both client flavours use it.
"""

from __future__ import annotations

import http.client
import time
from urllib.parse import parse_qs, urlsplit


class SlowBrowser:
    """Waits ``delay`` seconds (the person reading the page), then approves."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.logins = 0
        self.codes: list[str] = []
        """Authorization codes the server handed out (secrets, for scans)."""

    def __call__(self, url: str) -> str:
        self.logins += 1
        time.sleep(self.delay)
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            response = connection.getresponse()
            assert response.status == 302, response.read()
            location = response.headers["Location"]
        finally:
            connection.close()
        code = parse_qs(urlsplit(location).query).get("code")
        if code:
            self.codes.extend(code)
        return location

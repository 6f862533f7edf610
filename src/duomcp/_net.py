"""Network settings shared by every HTTP client duomcp makes (MCP transport and auth)."""

from __future__ import annotations

__all__ = ["env_proxy"]


def env_proxy(url: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``...) names for ``url``."""
    import aiohttp.helpers
    import yarl

    try:
        proxy, _ = aiohttp.helpers.get_env_proxy_for_url(yarl.URL(url))
    except LookupError:
        return None
    return str(proxy)

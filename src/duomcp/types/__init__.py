"""Models of the MCP schema: frozen attrs classes with snake_case fields.

Each wire field ``camelCase`` is attribute ``camel_case``; ``_meta`` is ``meta``. Fields a
model does not know are kept in ``extra`` and sent back out unchanged. Content blocks of
unknown types become :class:`UnknownContent`. The models know nothing of JSON: the
converter in ``duomcp._wire`` holds every wire rule.
"""

from __future__ import annotations

from ._models import *  # noqa: F403
from ._models import __all__ as __all__

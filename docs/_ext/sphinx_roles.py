"""A griffe extension for the docs build: Sphinx roles in docstrings shown as code.

duomcp's docstrings are Google-style but name things the Sphinx way
(:class:`~duomcp.StdioServer`, :meth:`close`). Markdown would show the role literally,
so each becomes inline code with the name a reader would write (the last part after
``~``, as Sphinx shows it).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj):`(~?)([^`]+)`")


def _replace(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    shown = target.rsplit(".", 1)[-1] if tilde else target
    return f"`{shown}`"


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring to ``target`` as inline code."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = _ROLE.sub(_replace, obj.docstring.value)

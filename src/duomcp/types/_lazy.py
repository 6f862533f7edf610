"""Model classes made attrs classes on first use, not at import.

attrs writes and compiles each class's methods when the class is decorated: for the 130-odd
MCP models that was most of ``import duomcp`` (about 1 ms a class), while a program uses
a few dozen of them. :func:`model` records the class and gives it a stand-in ``__init__``;
:func:`ensure` turns it into the frozen, keyword-only attrs class in place (same class
object) the first time it is built or read from the wire. Type checkers see what attrs
would make (``dataclass_transform``).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TypeVar

import attrs

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # typing_extensions comes with cattrs on these versions
    from typing_extensions import dataclass_transform

__all__ = ["ensure", "evolve", "model"]

_T = TypeVar("_T", bound=type)
_M = TypeVar("_M")
_pending: set[type] = set()
_lock = threading.Lock()


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def model(cls: _T) -> _T:
    """Declare a model class; it becomes an attrs class when first used."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        ensure(cls)
        attrs_init: Any = vars(cls)["__init__"]  # attrs' own, from now on
        attrs_init(self, *args, **kwargs)

    setattr(cls, "__init__", __init__)  # noqa: B010 (a class's method, replaced)
    _pending.add(cls)
    return cls


def ensure(cls: type) -> type:
    """Make ``cls`` the attrs class it was declared as, if it is not yet; return it."""
    if cls in _pending:
        with _lock:
            if cls in _pending:
                # auto_detect off: attrs writes its __init__ over the stand-in, so a class
                # is never without one, even for another thread building it meanwhile.
                attrs.frozen(kw_only=True, slots=False, auto_detect=False)(cls)
                _pending.discard(cls)
    return cls


def evolve(instance: _M, **changes: Any) -> _M:
    """A copy of a model instance with ``changes`` (``attrs.evolve``, typed for models)."""
    return attrs.evolve(instance, **changes)  # type: ignore[misc]

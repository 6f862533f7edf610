"""Client and AsyncClient offer the same methods, parameters, types and docstrings."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

from duomcp import AsyncClient, Client

RENAMES = {
    "AsyncIterator": "Iterator",
    "AsyncClient": "Client",
    "SamplingHandler": "BlockingSamplingHandler",
    "ElicitationHandler": "BlockingElicitationHandler",
    "RootsHandler": "BlockingRootsHandler",
}
DUNDER = {"__aenter__": "__enter__", "__aexit__": "__exit__"}


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(cls).items()
        if not name.startswith("_") or name in (*DUNDER, *DUNDER.values(), "__init__")
    }


def as_sync(text: str) -> str:
    for old, new in RENAMES.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def test_same_public_surface() -> None:
    names_async = {DUNDER.get(n, n) for n in public(AsyncClient)}
    assert names_async == set(public(Client))


def test_same_signatures_and_docstrings() -> None:
    sync_members = public(Client)
    for name, member in public(AsyncClient).items():
        twin = sync_members[DUNDER.get(name, name)]
        if isinstance(member, property):
            assert isinstance(twin, property), name
            assert member.__doc__ == twin.__doc__, name
            continue
        assert callable(member) and callable(twin), name
        assert as_sync(str(inspect.signature(member))) == str(inspect.signature(twin)), name
        assert inspect.getdoc(member) == inspect.getdoc(twin), name
        assert (
            inspect.iscoroutinefunction(member)
            or inspect.isasyncgenfunction(member)
            or name == "__init__"
            or name == "__del__"
        ), name
        assert not inspect.iscoroutinefunction(twin), name


def test_every_public_name_has_a_docstring() -> None:
    import duomcp

    for name in duomcp.__all__:
        obj = getattr(duomcp, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
    for name, member in public(AsyncClient).items():
        if not name.startswith("_"):
            assert inspect.getdoc(member), name


def test_import_leaves_aiohttp_for_first_use() -> None:
    # aiohttp costs about 200 ms to import, the stdio and HTTP+SSE transports ~14 ms, the
    # OAuth flows and the blocking client's portal some more: `import duomcp` must not pay
    # for them up front.
    code = (
        "import sys, duomcp, duomcp.auth; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'yarl') "
        "or m in ('duomcp.transports.stdio', 'duomcp.transports.legacy_sse', "
        "'duomcp.auth._oauth', 'duomcp.auth._browser', 'duomcp._portal')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

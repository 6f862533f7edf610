"""Set up and run, in one command each, on a fresh clone with only Python 3.10+ (and npm
for the tests that need Node):

    python3 dev.py demo     # a venv with duomcp, then `duomcp demo` (the whole OAuth flow)
    python3 dev.py test     # everything the tests need, then the checks and every test

`test` is what CI runs (.ci/run): the venv with the test, lint, codegen and docs tools,
Node 22 with the official conformance suite, node-oidc-provider (a real authorization
server for the auth tests) and the legacy official SDK in .ci-cache/
(.ci/install-node.sh, .ci/install-npm-pinned.sh for node-oidc-provider and
server-everything, .ci/install-mcp-legacy.sh), then ruff, mypy,
the codegen checks and pytest (which also builds the docs site with mkdocs --strict and runs every
example). Extra arguments go to pytest: `python3 dev.py test -x
tests/test_cli.py`. Each step is skipped when it is already done, so a second run starts
the tests at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".duomcp-installed"


def _run(*cmd: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check).returncode


def _venv(groups: tuple[str, ...]) -> None:
    """The project's venv with duomcp (editable) and the dependency groups asked for."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
        _run(PYTHON, "-m", "pip", "install", "-q", "-U", "pip")  # --group needs pip 25.1
    wanted = " ".join(groups) + " " + str((ROOT / "pyproject.toml").stat().st_mtime_ns)
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    options = [arg for group in groups for arg in ("--group", group)]
    _run(PYTHON, "-m", "pip", "install", "-q", "-e", ".", *options)
    STAMP.write_text(wanted)


def demo() -> int:
    """Install duomcp in .venv and run `duomcp demo`."""
    _venv(())
    return _run(BIN / "duomcp", "demo", check=False)


def test(pytest_args: list[str]) -> int:
    """Install everything the tests need, run the checks, then the whole suite."""
    _venv(("test", "lint", "codegen", "docs"))
    env_python = {"PYTHON": str(PYTHON)}
    subprocess.run(["bash", ".ci/install-node.sh"], cwd=ROOT, check=True)
    for source, name, package in (
        ("tests/oidc", "oidc", "oidc-provider"),
        ("tests/interop/everything", "everything", "@modelcontextprotocol/server-everything"),
    ):
        subprocess.run(
            ["bash", ".ci/install-npm-pinned.sh", source, name, package], cwd=ROOT, check=True
        )
    subprocess.run(
        ["bash", ".ci/install-mcp-legacy.sh"],
        cwd=ROOT,
        check=True,
        env={**os.environ, **env_python},
    )
    _run(PYTHON, "-m", "ruff", "check")
    _run(PYTHON, "-m", "ruff", "format", "--check")
    _run(PYTHON, "-m", "mypy")
    _run(PYTHON, "codegen/unasync.py", "--check")
    _run(PYTHON, "codegen/models.py", "--check")
    return _run(PYTHON, "-m", "pytest", *pytest_args, check=False)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.version_info < (3, 10):  # noqa: UP036 (run by whatever python3 there is)
        print("duomcp needs Python 3.10 or newer", file=sys.stderr)
        return 2
    try:
        return demo() if sys.argv[1] == "demo" else test(sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())

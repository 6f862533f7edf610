"""codegen/unasync.py: the generated twin is complete, and --check catches every drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the parts of the project the generator reads and writes."""
    for part in ("codegen", "src/duomcp/_async", "src/duomcp/_sync", "tests/_async", "tests/_sync"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(tree / "codegen" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_committed_tree_is_up_to_date(tree: Path) -> None:
    result = check(tree)
    assert result.returncode == 0, result.stderr


def test_hand_edit_of_generated_file_fails(tree: Path) -> None:
    target = tree / "src/duomcp/_sync/client.py"
    target.write_text(target.read_text().replace("def ping(", "def ping_edited("))
    result = check(tree)
    assert result.returncode == 1
    assert "src/duomcp/_sync/client.py: differs" in result.stderr


def test_missing_trailing_lines_fail(tree: Path) -> None:
    target = tree / "tests/_sync/test_client.py"
    lines = target.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[:-5]))
    assert check(tree).returncode == 1


def test_orphan_and_missing_files_fail(tree: Path) -> None:
    (tree / "src/duomcp/_sync/stray.py").write_text("x = 1\n")
    (tree / "tests/_sync/conftest.py").unlink()
    result = check(tree)
    assert result.returncode == 1
    assert "stray.py: orphan" in result.stderr
    assert "conftest.py: missing" in result.stderr


def test_leftover_async_in_output_fails(tree: Path) -> None:
    source = tree / "src/duomcp/_async/client.py"
    source.write_text(source.read_text() + "\nimport asyncio  # noqa: E402,F401\n")
    result = check(tree)
    assert result.returncode == 1
    assert "async leftover" in result.stderr


def test_generation_never_writes_into_the_async_sources(tree: Path) -> None:
    before = {p: p.read_bytes() for p in (tree / "src/duomcp/_async").rglob("*.py")}
    subprocess.run([sys.executable, str(tree / "codegen" / "unasync.py")], check=True, timeout=60)
    after = {p: p.read_bytes() for p in (tree / "src/duomcp/_async").rglob("*.py")}
    assert before == after

"""Generate the blocking flavour from the async one, or check that it is up to date.

    python codegen/unasync.py            # write src/duomcp/_sync and tests/_sync
    python codegen/unasync.py --check    # exit 1 if anything generated is stale

Pairs: ``src/duomcp/_async`` -> ``src/duomcp/_sync`` and ``tests/_async`` ->
``tests/_sync``. Every generated file starts with a header naming its source. ``--check``
regenerates into a temporary folder and fails on any differing, missing or orphan file,
any replacement that no longer matches anything, and any ``async``/``await``/``asyncio``/
``aiohttp`` left in the generated code. Requires unasync 0.6 (pinned in the ``codegen``
dependency group) and ruff.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This script shares its name with the unasync package: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
PAIRS = (
    (ROOT / "src" / "duomcp" / "_async", ROOT / "src" / "duomcp" / "_sync"),
    (ROOT / "tests" / "_async", ROOT / "tests" / "_sync"),
)
# Explicit renames: every public Async* name maps to a chosen sync name, never to
# unasync's default "Sync*" guess. Each must be used at least once (checked).
REPLACEMENTS = {
    "AsyncClient": "Client",
    "async_client": "client",
    "Engine": "BlockingEngine",
    "SamplingHandler": "BlockingSamplingHandler",
    "ElicitationHandler": "BlockingElicitationHandler",
    "RootsHandler": "BlockingRootsHandler",
    "async_wait_until": "wait_until",
    "async_pause": "pause",
}
HEADER = (
    "# Generated from {source} by codegen/unasync.py -- do not edit.\n"
    "# Change the async original and run: python codegen/unasync.py\n"
)
LEFTOVER = re.compile(r"\b(async|await|asyncio|aiohttp)\b")
UNASYNC_VERSION = "0.6.0"


def _rule() -> object:
    from importlib.metadata import version

    import unasync

    found = version("unasync")
    if found != UNASYNC_VERSION:
        sys.exit(f"codegen/unasync.py needs unasync {UNASYNC_VERSION}, found {found}")
    return unasync.Rule("/_async/", "/_sync/", additional_replacements=REPLACEMENTS)


def _convert(rule: object, source: Path) -> str:
    """Run unasync's token rewriting on one file and return the text (never writes)."""
    text = source.read_text(encoding="utf-8")
    import tokenize_rt

    tokens = tokenize_rt.src_to_tokens(text)
    out = tokenize_rt.tokens_to_src(rule._unasync_tokens(tokens))  # type: ignore[attr-defined]
    return out


def _format(folder: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--quiet", str(folder)], check=True, cwd=ROOT
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--quiet",
            "--fix",
            "--select",
            "I,F401",
            str(folder),
        ],
        check=False,
        cwd=ROOT,
    )


def _used_names(texts: list[str]) -> set[str]:
    names: set[str] = set()
    for text in texts:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME:
                names.add(tok.string)
            elif tok.type == tokenize.STRING:
                names.add(tok.string[1:-1])
    return names


def generate(out_root: Path) -> list[str]:
    """Write the generated tree under ``out_root`` (mirroring ROOT); return problems."""
    rule = _rule()
    problems: list[str] = []
    sources: list[str] = []
    for src_dir, dst_dir in PAIRS:
        target = out_root / dst_dir.relative_to(ROOT)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for source in sorted(src_dir.rglob("*.py")):
            rel = source.relative_to(src_dir)
            dest = target / rel
            assert dest.resolve() != source.resolve(), "unasync would overwrite its input"
            text = source.read_text(encoding="utf-8")
            sources.append(text)
            header = HEADER.format(source=source.relative_to(ROOT).as_posix())
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(header + _convert(rule, source), encoding="utf-8")
        _format(target)
        for generated in sorted(target.rglob("*.py")):
            for lineno, line in enumerate(generated.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if LEFTOVER.search(code):
                    rel = generated.relative_to(out_root).as_posix()
                    problems.append(f"{rel}:{lineno}: async leftover: {line.strip()}")
    used = _used_names(sources)
    for name in REPLACEMENTS:
        if name not in used:
            problems.append(f"replacement {name!r} matches nothing in the async sources")
    return problems


def check() -> int:
    """Regenerate into a temporary folder and compare whole files with the committed ones."""
    with tempfile.TemporaryDirectory() as tmp:
        problems = generate(Path(tmp))
        for _, dst_dir in PAIRS:
            fresh_dir = Path(tmp) / dst_dir.relative_to(ROOT)
            fresh = {p.relative_to(fresh_dir) for p in fresh_dir.rglob("*.py")}
            committed = (
                {p.relative_to(dst_dir) for p in dst_dir.rglob("*.py")}
                if dst_dir.exists()
                else set()
            )
            label = dst_dir.relative_to(ROOT).as_posix()
            for rel in sorted(fresh - committed):
                problems.append(f"{label}/{rel}: missing (run codegen/unasync.py)")
            for rel in sorted(committed - fresh):
                problems.append(f"{label}/{rel}: orphan: no async source generates it")
            for rel in sorted(fresh & committed):
                want = (fresh_dir / rel).read_text().splitlines(keepends=True)
                have = (dst_dir / rel).read_text().splitlines(keepends=True)
                if want != have:
                    diff = "".join(
                        difflib.unified_diff(have, want, f"{label}/{rel}", "regenerated", n=1)
                    )
                    problems.append(f"{label}/{rel}: differs from its source\n{diff}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s): the generated sync code is stale", file=sys.stderr)
        return 1
    print("generated sync code is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    problems = generate(ROOT)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

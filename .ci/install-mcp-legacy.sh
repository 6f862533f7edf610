#!/usr/bin/env bash
# Install the official Python SDK of the legacy generation (mcp 1.x, which speaks only the
# initialize-based protocol, up to 2025-11-25) into <repo>/.ci-cache/mcp-legacy, apart
# from the test venv's mcp 2.x. The era interop tests run its server with
# PYTHONPATH=.ci-cache/mcp-legacy. Idempotent: nothing is downloaded when it is there.
set -euo pipefail

VERSION="1.30.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/.ci-cache/mcp-legacy"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

if [ -d "$TARGET/mcp-$VERSION.dist-info" ]; then
  echo "install-mcp-legacy.sh: mcp $VERSION already in $TARGET" >&2
  exit 0
fi
rm -rf "$TARGET"
echo "install-mcp-legacy.sh: installing mcp $VERSION into $TARGET" >&2
"$PYTHON" -m pip install -q --disable-pip-version-check --target "$TARGET" "mcp==$VERSION" >&2
[ -d "$TARGET/mcp-$VERSION.dist-info" ] || { echo "install-mcp-legacy.sh: install failed" >&2; exit 1; }

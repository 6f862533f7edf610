#!/usr/bin/env bash
# Install one npm package, pinned by a package.json and package-lock.json kept in the
# repository, into a project-local folder, <repo>/.ci-cache/<name>, with
# `npm install --prefix`. Idempotent: when the installed tree came from the same lock file
# and holds the pinned version, nothing is downloaded.
#
#   bash .ci/install-npm-pinned.sh SOURCE_DIR NAME PACKAGE
#
# SOURCE_DIR (relative to the repository) holds the package.json and lock file; PACKAGE is
# the dependency they pin. Needs npm; the Node 22 of .ci-cache/node
# (bash .ci/install-node.sh) is used when it is there, else the node on PATH.
# Last line of stdout: the prefix (.ci-cache/NAME).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 SOURCE_DIR NAME PACKAGE" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCE="$ROOT/$1"
PREFIX="$ROOT/.ci-cache/$2"
PACKAGE="$3"
NODE_BIN="$ROOT/.ci-cache/node/node_modules/.bin"
SELF="install-npm-pinned.sh ($PACKAGE)"

die() {
  echo "$SELF: error: $*" >&2
  exit 1
}

if [ -x "$NODE_BIN/node" ]; then
  export PATH="$NODE_BIN:$PATH"
fi
command -v node >/dev/null 2>&1 || die "node is not installed (run: bash .ci/install-node.sh)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

VERSION="$(node -p "require('$SOURCE/package.json').dependencies['$PACKAGE']")" \
  || die "cannot read $SOURCE/package.json"

# True when the prefix holds the pinned package, installed from the same lock file.
installed() {
  local v
  [ -f "$PREFIX/package-lock.json" ] || return 1
  cmp -s "$SOURCE/package-lock.json" "$PREFIX/package-lock.json" || return 1
  cmp -s "$SOURCE/package.json" "$PREFIX/package.json" || return 1
  v="$(node -p "require('$PREFIX/node_modules/$PACKAGE/package.json').version" 2>/dev/null)" \
    || return 1
  [ "$v" = "$VERSION" ]
}

if installed; then
  echo "$SELF: $VERSION already in $PREFIX" >&2
else
  echo "$SELF: installing $VERSION into $PREFIX" >&2
  mkdir -p "$PREFIX" || die "cannot create $PREFIX"
  cp "$SOURCE/package.json" "$SOURCE/package-lock.json" "$PREFIX/"
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! npm install --prefix "$PREFIX" --no-audit --no-fund --no-update-notifier \
      --loglevel=error >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install failed (see output above)"
  fi
  # npm install rewrites a lock file it disagrees with: the pinned one must stand.
  cmp -s "$SOURCE/package-lock.json" "$PREFIX/package-lock.json" \
    || die "npm changed the lock file: $1/package-lock.json is out of date"
  installed || die "$PACKAGE $VERSION is not installed in $PREFIX"
  echo "$SELF: $VERSION with $(node --version)" >&2
fi
echo "$PREFIX"

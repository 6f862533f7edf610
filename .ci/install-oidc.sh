#!/usr/bin/env bash
# Install node-oidc-provider (the OpenID Certified authorization server tests/test_oidc.py
# signs in at) into a project-local folder, <repo>/.ci-cache/oidc, with
# `npm install --prefix`. The versions are pinned by tests/oidc/package.json and its
# package-lock.json, which are copied there first. Idempotent: when the installed tree
# came from the same lock file and loads, nothing is downloaded.
#
# Needs npm; the Node 22 of .ci-cache/node (bash .ci/install-node.sh) is used when it is
# there, else the node on PATH. Last line of stdout: the prefix (.ci-cache/oidc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCE="$ROOT/tests/oidc"
PREFIX="$ROOT/.ci-cache/oidc"
NODE_BIN="$ROOT/.ci-cache/node/node_modules/.bin"

die() {
  echo "install-oidc.sh: error: $*" >&2
  exit 1
}

if [ -x "$NODE_BIN/node" ]; then
  export PATH="$NODE_BIN:$PATH"
fi
command -v node >/dev/null 2>&1 || die "node is not installed (run: bash .ci/install-node.sh)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

VERSION="$(node -p "require('$SOURCE/package.json').dependencies['oidc-provider']")" \
  || die "cannot read $SOURCE/package.json"

# True when the prefix holds the pinned oidc-provider, installed from the same lock file,
# and Node can load it.
installed() {
  local v
  [ -f "$PREFIX/package-lock.json" ] || return 1
  cmp -s "$SOURCE/package-lock.json" "$PREFIX/package-lock.json" || return 1
  cmp -s "$SOURCE/package.json" "$PREFIX/package.json" || return 1
  v="$(node -p "require('$PREFIX/node_modules/oidc-provider/package.json').version" 2>/dev/null)" \
    || return 1
  [ "$v" = "$VERSION" ] || return 1
  (cd "$PREFIX" && node --input-type=module -e "await import('oidc-provider')") >/dev/null 2>&1
}

if installed; then
  echo "install-oidc.sh: oidc-provider $VERSION already in $PREFIX" >&2
else
  echo "install-oidc.sh: installing oidc-provider $VERSION into $PREFIX" >&2
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
    || die "npm changed the lock file: tests/oidc/package-lock.json is out of date"
  installed || die "oidc-provider $VERSION is not loadable from $PREFIX"
  echo "install-oidc.sh: oidc-provider $VERSION with $(node --version)" >&2
fi
echo "$PREFIX"

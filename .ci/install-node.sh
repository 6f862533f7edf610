#!/usr/bin/env bash
# Install Node 22 and the official MCP conformance suite into a project-local folder,
# <repo>/.ci-cache/node, with `npm install --prefix`. Idempotent: when both are already
# there at the right versions nothing is downloaded.
#
# The only prerequisite is npm (any version; if it is missing and apt-get is available,
# nodejs and npm are installed from the distribution). The system node that runs npm
# does not need to be 22: the `node` npm package ships its own Node 22 binary.
#
# Last line of stdout: the bin directory, holding `node` (v22) and `conformance`.
# Run the suite as: "$BIN/node" "$BIN/conformance" client --command ... --scenario ...
set -euo pipefail

NODE_SPEC="node@22"
NODE_MAJOR="22"
CONFORMANCE_PKG="@modelcontextprotocol/conformance"
CONFORMANCE_VERSION="0.1.16"
# The suite's next line (pre-release) is the only one with 2026-07-28 client scenarios;
# it goes into its own prefix so the two versions never mix.
CONFORMANCE_NEXT_VERSION="0.2.0-alpha.12"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="$ROOT/.ci-cache/node"
BIN="$PREFIX/node_modules/.bin"
CONFORMANCE_JS="$PREFIX/node_modules/$CONFORMANCE_PKG/dist/index.js"
NEXT_PREFIX="$ROOT/.ci-cache/conformance-next"
NEXT_JS="$NEXT_PREFIX/node_modules/$CONFORMANCE_PKG/dist/index.js"

die() {
  echo "install-node.sh: error: $*" >&2
  exit 1
}

# True when the Node 22 binary and the pinned suite are installed and runnable.
installed() {
  local v
  [ -x "$BIN/node" ] || return 1
  v="$("$BIN/node" --version 2>/dev/null)" || return 1
  case "$v" in "v$NODE_MAJOR".*) ;; *) return 1 ;; esac
  [ -f "$CONFORMANCE_JS" ] || return 1
  v="$("$BIN/node" "$CONFORMANCE_JS" --version 2>/dev/null)" || return 1
  [ "$v" = "$CONFORMANCE_VERSION" ]
}

ensure_npm() {
  command -v npm >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 \
    || die "npm is not installed and apt-get is not available; install npm and retry"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "npm is not installed and installing it needs root (no sudo)"
    sudo="sudo"
  fi
  echo "install-node.sh: npm not found; installing nodejs and npm with apt-get" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
    || die "apt-get update failed"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2 \
    || die "apt-get install nodejs npm failed"
  command -v npm >/dev/null 2>&1 || die "npm still not found after apt-get install"
}

# The `node` package's preinstall script links the platform binary into bin/node.
# npm >= 11 skips install scripts it has not been told to allow; the binary is usually in
# place anyway, but if it is not, run that one script by hand with the system node.
fix_node_binary() {
  local pkg="$PREFIX/node_modules/node"
  "$BIN/node" --version >/dev/null 2>&1 && return 0
  [ -f "$pkg/installArchSpecificPackage.js" ] || return 0
  command -v node >/dev/null 2>&1 || return 0
  echo "install-node.sh: running the node package's install step by hand" >&2
  (cd "$pkg" && node installArchSpecificPackage.js) >&2 || true
}

if ! installed; then
  ensure_npm
  mkdir -p "$PREFIX" || die "cannot create $PREFIX"
  echo "install-node.sh: installing $NODE_SPEC and $CONFORMANCE_PKG@$CONFORMANCE_VERSION into $PREFIX" >&2
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! npm install --prefix "$PREFIX" --no-audit --no-fund --no-update-notifier \
      --loglevel=error --save-exact \
      "$NODE_SPEC" "$CONFORMANCE_PKG@$CONFORMANCE_VERSION" >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install failed (see output above)"
  fi
  fix_node_binary
  if ! installed; then
    cat "$log" >&2
    [ -x "$BIN/node" ] || die "$BIN/node is missing after npm install"
    v="$("$BIN/node" --version 2>&1)" || die "$BIN/node does not run: $v"
    case "$v" in "v$NODE_MAJOR".*) ;; *) die "$BIN/node is $v, expected v$NODE_MAJOR.x" ;; esac
    die "$CONFORMANCE_PKG $CONFORMANCE_VERSION is not runnable at $CONFORMANCE_JS"
  fi
fi

next_installed() {
  local v
  [ -f "$NEXT_JS" ] || return 1
  v="$("$BIN/node" "$NEXT_JS" --version 2>/dev/null)" || return 1
  [ "$v" = "$CONFORMANCE_NEXT_VERSION" ]
}

if ! next_installed; then
  mkdir -p "$NEXT_PREFIX" || die "cannot create $NEXT_PREFIX"
  echo "install-node.sh: installing $CONFORMANCE_PKG@$CONFORMANCE_NEXT_VERSION into $NEXT_PREFIX" >&2
  log="$(mktemp)"
  if ! PATH="$BIN:$PATH" npm install --prefix "$NEXT_PREFIX" --no-audit --no-fund \
      --no-update-notifier --loglevel=error --save-exact \
      "$CONFORMANCE_PKG@$CONFORMANCE_NEXT_VERSION" >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install of $CONFORMANCE_PKG@$CONFORMANCE_NEXT_VERSION failed (see output above)"
  fi
  rm -f "$log"
  next_installed || die "$CONFORMANCE_PKG $CONFORMANCE_NEXT_VERSION is not runnable at $NEXT_JS"
fi

echo "install-node.sh: node $("$BIN/node" --version), $CONFORMANCE_PKG $CONFORMANCE_VERSION and $CONFORMANCE_NEXT_VERSION" >&2
echo "$BIN"

#!/usr/bin/env bash
# Runs the interop suite: a real django-oauth-toolkit upstream, a real mcp SDK server and client, and
# the real `tollgate serve`. Creates .venv-interop at the repo root if missing, installs
# Tests/Interop/requirements.txt into it (again only when that file changed), then runs pytest with
# any extra arguments passed through, and exits with pytest's status.
#
#   TOLLGATE_BIN     the tollgate binary (default: .build/debug/tollgate; build it first)
#   INTEROP_LOG_DIR  where the processes' logs go (default: a pytest temporary directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

export TOLLGATE_BIN="${TOLLGATE_BIN:-.build/debug/tollgate}"
case "$TOLLGATE_BIN" in /*) ;; *) TOLLGATE_BIN="$repo/$TOLLGATE_BIN" ;; esac
if [ ! -x "$TOLLGATE_BIN" ]; then
    echo "interop: no tollgate binary at $TOLLGATE_BIN (run 'swift build' or set TOLLGATE_BIN)" >&2
    exit 1
fi

venv="$repo/.venv-interop"
if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv"; then
        # Debian's own python3 needs python3-venv for ensurepip.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            rm -rf "$venv"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            python3 -m venv "$venv"
        else
            echo "interop: 'python3 -m venv' failed; install python3-venv" >&2
            exit 1
        fi
    fi
fi
requirements="$repo/Tests/Interop/requirements.txt"
stamp="$venv/.requirements.sha256"
if ! sha256sum --status -c "$stamp" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    sha256sum "$requirements" > "$stamp"
fi

exec "$venv/bin/python" -m pytest -q Tests/Interop "$@"

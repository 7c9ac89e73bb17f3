#!/usr/bin/env bash
# Runs the interop suite: a real django-oauth-toolkit upstream, a real mcp SDK server and client, and
# the real `tollgate serve`. Makes sure the venv exists (Tests/Interop/venv.sh: .venv-interop at the repo
# root with Tests/Interop/requirements.txt, reinstalled only when that file changed), then runs pytest with
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

Tests/Interop/venv.sh
venv="$repo/.venv-interop"

exec "$venv/bin/python" -m pytest -q Tests/Interop "$@"

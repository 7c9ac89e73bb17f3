#!/usr/bin/env bash
# Runs the interop suite: a real django-oauth-toolkit upstream, a real mcp SDK server and client, and
# the real `tollgate serve`. Makes sure the venv exists (Tests/Interop/prepare.sh: .venv-interop at the repo
# root with Tests/Interop/requirements.txt, reinstalled only when that file changed), then runs pytest with
# any extra arguments passed through, and exits with pytest's status.
#
#   TOLLGATE_BIN     the tollgate binary (default: .build/debug/tollgate; build it first)
#   INTEROP_LOG_DIR  where the processes' logs go (default: a pytest temporary directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=interop
source Tests/Interop/prepare.sh

exec "$venv/bin/python" -m pytest -q Tests/Interop "$@"

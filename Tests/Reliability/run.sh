#!/usr/bin/env bash
# Runs the reliability suite: real `tollgate serve` and `tollgate dev-upstream` processes under faults
# (upstream outages, kill -9 of serve), with the interop suite's venv (.venv-interop, made by
# Tests/Interop/venv.sh). Extra arguments go to pytest; exits with pytest's status after printing the
# figures tables of the run.
#
#   TOLLGATE_BIN               the tollgate binary (default: .build/debug/tollgate; build it first)
#   RELIABILITY_OUTAGE_SECONDS length of each upstream outage (default 60)
#   RELIABILITY_LOG_DIR        where the processes' logs go (default: a pytest temporary directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

export TOLLGATE_BIN="${TOLLGATE_BIN:-.build/debug/tollgate}"
case "$TOLLGATE_BIN" in /*) ;; *) TOLLGATE_BIN="$repo/$TOLLGATE_BIN" ;; esac
if [ ! -x "$TOLLGATE_BIN" ]; then
    echo "reliability: no tollgate binary at $TOLLGATE_BIN (run 'swift build' or set TOLLGATE_BIN)" >&2
    exit 1
fi

Tests/Interop/venv.sh
export RELIABILITY_SUMMARY
RELIABILITY_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/tollgate-reliability.XXXXXX")
trap 'rm -f "$RELIABILITY_SUMMARY"' EXIT

status=0
"$repo/.venv-interop/bin/python" -m pytest -q Tests/Reliability "$@" || status=$?
echo
echo "==================== reliability figures ===================="
cat "$RELIABILITY_SUMMARY"
exit "$status"

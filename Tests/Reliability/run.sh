#!/usr/bin/env bash
# Runs the reliability suite: real `tollgate serve` and `tollgate dev-upstream` processes under faults
# (upstream outages, kill -9 of serve), with the interop suite's venv (.venv-interop, made by
# Tests/Interop/prepare.sh). Extra arguments go to pytest; exits with pytest's status after printing the
# figures tables of the run.
#
#   TOLLGATE_BIN               the tollgate binary (default: .build/debug/tollgate; build it first)
#   RELIABILITY_OUTAGE_SECONDS length of each upstream outage (default 60)
#   RELIABILITY_OUTAGES        which outages, comma-separated (default 5xx,refused,blackhole,sigstop,slow)
#   RELIABILITY_LOG_DIR        where the processes' logs go (default: a pytest temporary directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=reliability
source Tests/Interop/prepare.sh
export RELIABILITY_SUMMARY
RELIABILITY_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/tollgate-reliability.XXXXXX")
trap 'rm -f "$RELIABILITY_SUMMARY"' EXIT

status=0
"$venv/bin/python" -m pytest -q Tests/Reliability "$@" || status=$?
echo
echo "==================== reliability figures ===================="
cat "$RELIABILITY_SUMMARY"
exit "$status"

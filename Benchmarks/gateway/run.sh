#!/usr/bin/env bash
# Tollgate gateway benchmark, one run on loopback (see bench.py for what is measured and how):
#
#   Benchmarks/gateway/run.sh [bench.py options, e.g. --duration 10 --rounds 2 --connections 64]
#
# Measures `tollgate serve` (release build) against the mcp SDK backend direct, FastMCP 4.1.6's
# OAuthProxy and a static nginx reply with wrk, then the refresh single-flight storms, and prints the
# figures and ratios side by side. Prepares what it needs first: the interop venv (.venv-interop, via
# Tests/Interop/run.sh's own setup), wrk and nginx (Debian packages, installed with apt-get when
# missing and running as root) and the release binary (built when missing).
#
#   TOLLGATE_BIN  the binary to measure (default: .build-release/release/tollgate); TollgateBenchmarks
#                 (the reference bare proxy) is taken from the same folder
#
# Every process it starts is stopped when it ends, also on Ctrl-C or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

bin="${TOLLGATE_BIN:-$repo/.build-release/release/tollgate}"
if [ ! -x "$bin" ]; then
    if [ -n "${TOLLGATE_BIN:-}" ]; then
        echo "bench: no tollgate binary at $bin" >&2
        exit 1
    fi
    echo "bench: building the release binary (swift build -c release --product tollgate --scratch-path .build-release)" >&2
    swift build -c release --product tollgate --scratch-path .build-release >&2
fi
# The reference "bare proxy" (same HTTP stack, no token check) lives in TollgateBenchmarks, beside the binary.
if [ ! -x "$(dirname "$bin")/TollgateBenchmarks" ]; then
    echo "bench: building TollgateBenchmarks (its bare-proxy is the reference proxy)" >&2
    swift build -c release --product TollgateBenchmarks --scratch-path .build-release >&2
fi

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 || {
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
        }
    else
        echo "bench: missing ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

# The interop venv: Tests/Interop/run.sh creates it and installs its requirements (only when they
# changed); collecting the tests without running them is enough for that.
venv="$repo/.venv-interop"
if [ ! -x "$venv/bin/python" ] || ! (cd "$repo" && sha256sum --status -c "$venv/.requirements.sha256" 2>/dev/null); then
    TOLLGATE_BIN="$bin" Tests/Interop/run.sh --collect-only -q >/dev/null
fi

driver=""
cleanup() {
    # The driver stops its own children (and they die with it: PR_SET_PDEATHSIG); this only makes
    # sure the driver itself is gone when this script ends early.
    if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
        kill -TERM "$driver" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$driver" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$venv/bin/python" -u Benchmarks/gateway/bench.py --tollgate-bin "$bin" "$@" &
driver=$!
status=0
wait "$driver" || status=$?
driver=""
exit "$status"

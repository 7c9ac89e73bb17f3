#!/usr/bin/env bash
# Makes sure the Python venv of the process-level suites (Tests/Interop, Tests/Reliability) exists:
# creates .venv-interop at the repo root if missing and installs Tests/Interop/requirements.txt into it
# (again only when that file changed). Prints nothing on success; exits non-zero when it cannot.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

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
            echo "venv: 'python3 -m venv' failed; install python3-venv" >&2
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

# Sourced by the process-level suites' run.sh (Tests/Interop, Tests/Reliability) from the repo root, with
# `suite` set to the suite's name for messages: resolves and checks TOLLGATE_BIN (default
# .build/debug/tollgate, exported as an absolute path), and makes sure the Python venv exists: creates
# .venv-interop at the repo root if missing and installs Tests/Interop/requirements.txt into it (again
# only when that file changed). Leaves `repo` and `venv` set.
repo=$(pwd)

export TOLLGATE_BIN="${TOLLGATE_BIN:-.build/debug/tollgate}"
case "$TOLLGATE_BIN" in /*) ;; *) TOLLGATE_BIN="$repo/$TOLLGATE_BIN" ;; esac
if [ ! -x "$TOLLGATE_BIN" ]; then
    echo "$suite: no tollgate binary at $TOLLGATE_BIN (run 'swift build' or set TOLLGATE_BIN)" >&2
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
            echo "$suite: 'python3 -m venv' failed; install python3-venv" >&2
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

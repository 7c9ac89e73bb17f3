#!/usr/bin/env bash
# A local PostgreSQL 15 for the TollgatePostgres tests.
#
#   eval "$(Tests/Support/postgres.sh start)"   # as root: starts the cluster if needed, creates the role and database
#   Tests/Support/postgres.sh stop              # stops the cluster, only if `start` started it
#
# `start` prints the `export TOLLGATE_TEST_POSTGRES_URL=...` and `export PGPASSWORD=...` lines and writes them
# to .postgres-env (git-ignored) in the repository root. The role `tollgate` has CREATEDB: every test creates
# its own database and drops it.
set -euo pipefail

version=15
cluster=main
port=5432
root="$(cd "$(dirname "$0")/../.." && pwd)"
env_file="$root/.postgres-env"
marker="$root/.postgres-started-by-script"

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

cluster_running() { pg_lsclusters --no-header "$version" "$cluster" 2>/dev/null | awk '{print $4}' | grep -q online; }

start() {
    if [ "$(id -u)" -ne 0 ]; then echo "postgres.sh start: run as root" >&2; exit 1; fi
    if ! cluster_running; then
        pg_ctlcluster "$version" "$cluster" start >&2
        touch "$marker"
    fi
    for _ in $(seq 1 30); do
        as_postgres pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 1
    done
    local password
    if [ -f "$env_file" ] && grep -q '^export PGPASSWORD=' "$env_file"; then
        password="$(sed -n 's/^export PGPASSWORD=//p' "$env_file")"
    else
        password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    fi
    if as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'tollgate'" | grep -q 1; then
        as_postgres psql -p "$port" -q -c "ALTER ROLE tollgate WITH LOGIN CREATEDB PASSWORD '$password'"
    else
        as_postgres psql -p "$port" -q -c "CREATE ROLE tollgate WITH LOGIN CREATEDB PASSWORD '$password'"
    fi
    # Dropping a test database WITH (FORCE) must be able to end an autovacuum worker that is visiting it.
    as_postgres psql -p "$port" -q -c "GRANT pg_signal_backend TO tollgate"
    if ! as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = 'tollgate'" | grep -q 1; then
        as_postgres createdb -p "$port" -O tollgate tollgate
    fi
    umask 077
    cat > "$env_file" <<ENV
export TOLLGATE_TEST_POSTGRES_URL=postgres://tollgate@127.0.0.1:$port/tollgate
export PGPASSWORD=$password
ENV
    cat "$env_file"
}

stop() {
    if [ -f "$marker" ]; then
        pg_ctlcluster "$version" "$cluster" stop >&2 || true
        rm -f "$marker"
    else
        echo "postgres.sh stop: nothing to stop (the cluster was not started by postgres.sh start)" >&2
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

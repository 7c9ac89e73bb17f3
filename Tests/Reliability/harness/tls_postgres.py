"""A throwaway PostgreSQL 15 cluster with TLS, of the test's own (never the shared one): `initdb` into a temporary
directory as the `postgres` user, a self-signed CA and server certificates made with `openssl`, `ssl=on`,
listening on a free port of 127.0.0.1 only, with `hostssl`-only password (SCRAM) access. Stopped and removed
afterwards. Needs root (to run as `postgres`) and Debian's postgresql-15 binaries: without them the test FAILS
under CI and is skipped elsewhere, saying why."""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from fixtures.certificates import CertificateAuthority
from fixtures.procs import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROLE = "tollgate_tls"
DATABASE = "tollgate_tls"


def unavailable_reason() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    if os.geteuid() != 0:
        return "the TLS PostgreSQL test starts its own cluster as the postgres user: run it as root"
    if not (PG_BIN / "initdb").exists():
        return f"{PG_BIN}/initdb not found: install Debian's postgresql-15"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user (Debian's postgresql package makes it)"
    if shutil.which("openssl") is None:
        return "openssl not found"
    return None


def require_cluster_support() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _run(argv: list[str], **options) -> str:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **options)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:3])} … exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r.stdout


class Certificates:
    """A CA and two server certificates it signed: one for localhost / 127.0.0.1, one for another host name."""

    def __init__(self, directory: Path):
        authority = CertificateAuthority(directory)
        self.ca = authority.ca
        self.local = authority.issue("local", "localhost", "DNS:localhost,IP:127.0.0.1")
        self.other_host = authority.issue("other", "db.other-host.invalid", "DNS:db.other-host.invalid")


class TLSPostgres:
    """The cluster: `url(sslmode, host=...)` names its database (password in `password`, for PGPASSWORD);
    `serve_certificate(...)` switches the certificate the server presents (a reload, no restart)."""

    def __init__(self, log_dir: Path):
        self.root = Path(tempfile.mkdtemp(prefix="tollgate-tls-pg-"))
        self.data = self.root / "data"
        # The server writes its log inside its own directory (the test's log directory may be one the `postgres`
        # user cannot reach, e.g. pytest's 0700 base); stop() copies it beside the test's other logs.
        self.log = self.root / "server.log"
        self.kept_log = log_dir / "tls-postgres.log"
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.started = False
        postgres = pwd.getpwnam("postgres")
        self.certificates = Certificates(self.root)
        os.chmod(self.root, 0o755)
        for path in self.root.iterdir():
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
            os.chmod(path, 0o600 if path.suffix == ".key" else 0o644)
        os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        log_dir.mkdir(parents=True, exist_ok=True)

    def _as_postgres(self, *argv: str) -> str:
        return _run(["runuser", "-u", "postgres", "--", *argv], cwd="/")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """One statement as the superuser over the cluster's own Unix socket; its unaligned output."""
        return self._as_postgres(str(PG_BIN / "psql"), "-h", str(self.root), "-p", str(self.port), "-d", database,
                                 "-v", "ON_ERROR_STOP=1", "-qtAc", sql).strip()

    def start(self) -> "TLSPostgres":
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                          "--auth-host=reject", "--no-sync")
        cert, key = self.certificates.local
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.root}'
ssl = on
ssl_cert_file = '{cert}'
ssl_key_file = '{key}'
fsync = off
shared_buffers = 16MB
max_connections = 40
""")
        # TLS only: a plain TCP connection finds no rule and is refused.
        (self.data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.started = True
        self.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        return self

    def url(self, sslmode: str, host: str = "127.0.0.1", root_certificate: Path | None = None) -> str:
        url = f"postgres://{ROLE}@{host}:{self.port}/{DATABASE}?sslmode={sslmode}"
        return url + (f"&sslrootcert={root_certificate}" if root_certificate else "")

    def serve_certificate(self, which: tuple[Path, Path]) -> None:
        """Makes the server present `which` (certificate, key) to new connections."""
        cert, key = which
        self.psql(f"ALTER SYSTEM SET ssl_cert_file = '{cert}'")
        self.psql(f"ALTER SYSTEM SET ssl_key_file = '{key}'")
        self.psql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while self.psql("SHOW ssl_cert_file") != str(cert):
            if time.monotonic() > deadline:
                raise AssertionError("the TLS PostgreSQL did not reload its certificate")
            time.sleep(0.1)

    def client_connections(self) -> list[tuple[int, bool]]:
        """(pid, ssl) of every connection of the test role, as the server sees it."""
        out = self.psql(f"SELECT a.pid, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                        f"WHERE a.usename = '{ROLE}' ORDER BY a.pid")
        return [(int(pid), ssl == "t") for pid, ssl in (line.split("|") for line in out.splitlines() if line)]

    def stop(self) -> None:
        if self.started:
            try:
                self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            finally:
                self.started = False
        if self.log.exists():
            shutil.copyfile(self.log, self.kept_log)
        shutil.rmtree(self.root, ignore_errors=True)

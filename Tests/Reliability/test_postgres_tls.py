"""TLS to PostgreSQL, against a throwaway PostgreSQL 15 of this test's own that accepts TLS connections only
(`hostssl`): `sslmode=require` connects and every connection of `serve` is encrypted (`pg_stat_ssl`);
`verify-full` connects when `sslrootcert` names the CA, and fails clearly (naming no password) for a server
certificate of another host name or without the CA; `disable` is refused clearly."""
from __future__ import annotations

import base64
import os
import re
import subprocess

import pytest

from fixtures.procs import ManagedProcess, child_env, free_port, wait_until
from harness.tls_postgres import TLSPostgres, require_cluster_support

SERVE_READY = re.compile(r"tollgate serve listening on (http://\S+)")


@pytest.fixture(scope="module")
def cluster(log_root):
    require_cluster_support()
    server = TLSPostgres(log_root / "postgres-tls")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def environment(cluster):
    """The password and one master key for the module (the first test's CLI migrates the database with it)."""
    return child_env(PGPASSWORD=cluster.password, TOLLGATE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())


def cli(binary: str, url: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`tollgate server list` on the database `url`: opens (and migrates) the store, or fails."""
    return subprocess.run([binary, "server", "list", "--json", "--db", url], capture_output=True, text=True,
                          env=env, timeout=60)


def assert_refused(result: subprocess.CompletedProcess, password: str, *expected: str) -> str:
    message = (result.stderr + result.stdout).strip()
    assert result.returncode != 0, f"connected although it should not: {message}"
    assert password not in message
    for text in expected:
        assert text in message, f"{text!r} not in: {message}"
    return message


def test_require_connects_and_every_connection_is_encrypted(tollgate_bin, cluster, environment, log_root):
    url = cluster.url("require")
    assert cli(tollgate_bin, url, environment).returncode == 0
    port = free_port()
    serve = ManagedProcess("tollgate serve (TLS PostgreSQL)",
                           [tollgate_bin, "serve", "--db", url, "--listen", f"127.0.0.1:{port}",
                            "--public-url", f"http://127.0.0.1:{port}", "--log-level", "warning"],
                           log_root / "postgres-tls" / "serve.log", env=environment)
    serve.start(lambda p: SERVE_READY.search(p.log_text()) is not None, timeout=30)
    try:
        # Its change feed's LISTEN connection is opened as it starts, and stays.
        wait_until(lambda: bool(cluster.client_connections()), 15, interval=0.2, what="a connection of serve")
        connections = cluster.client_connections()
        assert all(ssl for _, ssl in connections), f"unencrypted connections (pid, ssl): {connections}"
    finally:
        serve.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_full_connects_with_the_ca_named_by_sslrootcert(tollgate_bin, cluster, environment, host):
    result = cli(tollgate_bin, cluster.url("verify-full", host=host, root_certificate=cluster.certificates.ca), environment)
    assert result.returncode == 0, result.stderr


def test_verify_full_without_the_ca_is_refused(tollgate_bin, cluster, environment):
    # The system roots do not hold the test CA.
    assert_refused(cli(tollgate_bin, cluster.url("verify-full"), environment), cluster.password,
                   "TLS with postgres://127.0.0.1:", "certificate was not accepted", "trusted CA")


def test_verify_full_refuses_a_certificate_of_another_host_name(tollgate_bin, cluster, environment):
    cluster.serve_certificate(cluster.certificates.other_host)
    try:
        message = assert_refused(
            cli(tollgate_bin, cluster.url("verify-full", root_certificate=cluster.certificates.ca), environment),
            cluster.password, "TLS with postgres://127.0.0.1:", "certificate was not accepted", "host name")
        assert "tollgate_tls@" not in message  # no user name either
        # The same certificate is accepted where nothing is verified: the refusal above is the host name's.
        assert cli(tollgate_bin, cluster.url("require"), environment).returncode == 0
    finally:
        cluster.serve_certificate(cluster.certificates.local)


def test_disable_against_a_server_that_requires_tls_is_refused(tollgate_bin, cluster, environment):
    assert_refused(cli(tollgate_bin, cluster.url("disable"), environment), cluster.password,
                   "refused the connection", "sslmode=disable")

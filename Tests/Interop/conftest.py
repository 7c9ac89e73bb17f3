"""Fixtures of the interop suite. One upstream provider and one MCP backend serve the whole run; each
test gets its own Tollgate database and `tollgate serve`, and its own upstream user (so the upstream's
per-user counters are the test's own). Every process is stopped in teardown; logs go to
`$INTEROP_LOG_DIR` (default: a pytest temporary directory, printed on failure)."""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import procs  # noqa: E402
from fixtures.backend import Backend, start_backend  # noqa: E402
from fixtures.postgres import FreshDatabase  # noqa: E402
from fixtures.session import binary_and_log_fixtures  # noqa: E402
from fixtures.tollgate import Tollgate, serve_available  # noqa: E402
from fixtures.upstream import Upstream, start_upstream  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# Lifetimes the scenarios rely on: the proxy's access tokens outlive nothing, the upstream's barely more.
PROXY_ACCESS_TTL = 5
UPSTREAM_ACCESS_TTL = 6


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


tollgate_bin, log_root = binary_and_log_fixtures(REPO, "INTEROP_LOG_DIR", "interop-logs")


@pytest.fixture(scope="session")
def serve_ready(tollgate_bin) -> str:
    ok, help_text = serve_available(tollgate_bin)
    if not ok:
        pytest.fail(f"{tollgate_bin} has no `serve` subcommand yet; `serve --help` printed:\n{help_text[:600]}",
                    pytrace=False)
    return tollgate_bin


@pytest.fixture(scope="session")
def upstream(tmp_path_factory, log_root) -> Upstream:
    up = start_upstream(tmp_path_factory.mktemp("upstream"), log_root, access_ttl=UPSTREAM_ACCESS_TTL)
    try:
        yield up
    finally:
        up.stop()


@pytest.fixture(scope="session")
def backend(upstream, log_root) -> Backend:
    b = start_backend(upstream.userinfo, log_root)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def user(request) -> str:
    """An upstream username of this test's own."""
    name = request.node.name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32]
    return f"u-{slug}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"


@pytest.fixture
def tollgate_cli(tollgate_bin, upstream, backend, tmp_path, log_root, request) -> Tollgate:
    """A configured Tollgate database (server `files` + its OIDC provider), without `serve`."""
    log_dir = log_root / request.node.name
    log_dir.mkdir(parents=True, exist_ok=True)
    request.node.interop_log_dir = log_dir
    t = Tollgate(tollgate_bin, tmp_path, log_dir)
    marker = request.node.get_closest_marker("proxy_access_ttl")
    t.configure(backend.mcp_url, upstream, access_ttl=marker.args[0] if marker else PROXY_ACCESS_TTL)
    return t


@pytest.fixture
def tollgate(serve_ready, tollgate_cli) -> Tollgate:
    """`tollgate serve` over a fresh, configured database; stopped in teardown."""
    tollgate_cli.start()
    try:
        yield tollgate_cli
    finally:
        tollgate_cli.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        shown = set()
        for p in reversed(procs.STARTED):
            if p.log_path in shown or not (p.running or item.name in p.log_path.parts):
                continue
            shown.add(p.log_path)
            report.sections.append((f"log of {p.name} ({p.log_path})", p.tail(60)))
        cli_log = getattr(item, "interop_log_dir", None)
        if cli_log is not None and (cli_log / "cli.log").exists():
            lines = (cli_log / "cli.log").read_text(errors="replace").splitlines()
            report.sections.append((f"tollgate CLI calls ({cli_log / 'cli.log'})", "\n".join(lines[-60:])))


@pytest.fixture
def tollgate_on_postgres(serve_ready, upstream, backend, tmp_path, log_root, request) -> Tollgate:
    """A configured Tollgate (server `files` + its OIDC provider) on a fresh PostgreSQL database, without `serve`:
    the test starts its instances. The database is dropped in teardown."""
    log_dir = log_root / request.node.name
    log_dir.mkdir(parents=True, exist_ok=True)
    request.node.interop_log_dir = log_dir
    fresh = FreshDatabase()
    t = Tollgate(serve_ready, tmp_path, log_dir, database=fresh.url)
    try:
        t.configure(backend.mcp_url, upstream, access_ttl=PROXY_ACCESS_TTL)
        yield t
    finally:
        t.stop()
        fresh.drop()

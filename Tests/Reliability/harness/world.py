"""One test's installation, built and torn down in order: MCP backend, dev-upstream, optional fault proxy
in front of its token endpoint, the database, `serve` processes, the registered client and the grants."""
from __future__ import annotations

import contextlib
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.procs import free_port, wait_until

from .agent import OAuthClient
from .backend import RecordingBackend
from fixtures.faultproxy import FaultProxy
from .installation import DevUpstream, Installation, SLUG
from fixtures.postgres import FreshDatabase
from .traffic import GrantSession, Traffic


# The store engines every crash and outage scenario runs on (test ids `[sqlite]`, `[postgres]`).
STORES = ("sqlite", "postgres")
STORE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class World:
    upstream: DevUpstream
    backend: RecordingBackend
    installation: Installation
    client: OAuthClient
    sessions: list[GrantSession]
    proxy: FaultProxy | None
    ports: list[int] = field(default_factory=list)
    database_proxy: FaultProxy | None = None

    def traffic(self, **options) -> Traffic:
        return Traffic(self.sessions, lambda: self.ports, self.client.client_id, **options)

    def grant_states(self) -> dict[str, dict]:
        """The grants as `tollgate grant list --json` shows them, by user."""
        return {g["subject"]: g for g in self.installation.grants()}

    def last_tokens_valid(self, traffic: Traffic) -> dict[str, str | None]:
        """Per grant, right after a fresh gateway request of its own: why the upstream token that request
        forwarded fails `/userinfo`, or None when it passes. (Checked one grant at a time: a token may be
        forwarded in its last seconds, which the early refresh leaves it.)"""
        problems: dict[str, str | None] = {}
        for session in self.sessions:
            probe = traffic.probe(session, self.ports[0])
            bearer = self.backend.bearers().get(session.name)
            if probe.status != 200:
                problems[session.name] = f"the gateway answered {probe.status} {probe.error or ''}".strip()
            elif bearer is None:
                problems[session.name] = "the backend received no bearer"
            elif not self.upstream.token_valid(bearer):
                problems[session.name] = "the forwarded upstream token is not valid at /userinfo"
            else:
                problems[session.name] = None
        return problems


def build_world(stack: contextlib.ExitStack, binary: str, workdir: Path, log_dir: Path, users: int, access_ttl: int,
                with_proxy: bool, serves: int = 1, rotate: bool = True, backend_store: str = "sqlite",
                with_database_proxy: bool = False) -> World:
    """`backend_store`: "sqlite" (a file in `workdir`) or "postgres" (a fresh database on the test server).
    `with_database_proxy` (PostgreSQL only): `serve` reaches the database through a fault proxy (`database_proxy`),
    the CLI directly."""
    log_dir.mkdir(parents=True, exist_ok=True)
    database = serve_database = None
    database_proxy = None
    if backend_store == "postgres":
        fresh = FreshDatabase()
        stack.callback(fresh.drop)
        database = fresh.url
        if with_database_proxy:
            parts = urllib.parse.urlsplit(database)
            database_proxy = FaultProxy(parts.port or 5432, free_port()).start()
            stack.callback(database_proxy.stop)
            serve_database = urllib.parse.urlunsplit(
                (parts.scheme, f"{parts.username}@127.0.0.1:{database_proxy.port}" if parts.username
                 else f"127.0.0.1:{database_proxy.port}", parts.path, parts.query, ""))
    elif with_database_proxy:
        raise ValueError("a database proxy needs backend_store='postgres'")
    backend = RecordingBackend().start()
    stack.callback(backend.stop)
    upstream = DevUpstream(binary, log_dir, access_ttl).start()
    stack.callback(upstream.stop)
    if not rotate:
        upstream.configure(rotateRefreshTokens=False)
    proxy = None
    token_endpoint = upstream.base_url + "/token"
    if with_proxy:
        proxy = FaultProxy(upstream.port, free_port()).start()
        stack.callback(proxy.stop)
        token_endpoint = f"http://127.0.0.1:{proxy.port}/token"
    installation = Installation(binary, workdir, log_dir, database, serve_database)
    stack.callback(installation.stop)
    installation.configure(backend.mcp_url, upstream, token_endpoint)
    ports = [installation.start_serve() for _ in range(serves)]
    client = OAuthClient(installation.public_url, SLUG, redirect_port=free_port())
    client.register()
    sessions = []
    for n in range(users):
        name = f"user{n + 1:02d}"
        sessions.append(GrantSession(name, client.authorize(name)))
    world = World(upstream, backend, installation, client, sessions, proxy, ports, database_proxy)
    by_subject = world.grant_states()
    for s in sessions:
        s.grant_id = by_subject[s.name]["id"]
    return world


def wait_for(predicate, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, interval=0.2, what=what)


def now() -> float:
    return time.monotonic()

"""The official mcp 2.3.0 client against two `tollgate serve` instances on one PostgreSQL database, behind a
forwarder that plays the load balancer (the public URL): authorized through instance A; then, A stopped and the
forwarder moved to B, the same client is served by B and B refreshes the tokens A issued; and a client process
started afresh from the same stored tokens is served by B too."""
from __future__ import annotations

import time

import anyio
import pytest

from conftest import PROXY_ACCESS_TTL, UPSTREAM_ACCESS_TTL
from fixtures.client import McpUser
from fixtures.faultproxy import FaultProxy
from fixtures.procs import free_port

pytestmark = pytest.mark.anyio

EXPIRY_WAIT = max(PROXY_ACCESS_TTL, UPSTREAM_ACCESS_TTL) + 1.0


async def test_the_official_client_on_instance_a_then_b_with_the_same_stored_tokens(tollgate_on_postgres, upstream, user, tmp_path):
    t = tollgate_on_postgres
    a_port, b_port = free_port(), free_port()
    balancer = FaultProxy(a_port, free_port())
    t.public_url = f"http://127.0.0.1:{balancer.port}"
    a = t.start_instance(a_port, "A")
    b = t.start_instance(b_port, "B")
    balancer.start()
    storage = tmp_path / "client.json"
    try:
        async with McpUser(t.mcp_url, user, storage) as me:
            assert (await me.whoami())["sub"] == user, me.transcript()          # authorized through A
            assert me.authorizations == 1
            authorized_at = time.time()
            served_by_a = balancer.connections

            balancer.retarget(b_port)
            a.stop()   # from here on only B can answer
            mark = me.mark()
            assert (await me.whoami())["sub"] == user, me.transcript(mark)      # A's tokens, served by B
            await anyio.sleep(max(0.0, authorized_at + EXPIRY_WAIT - time.time()))
            mark = me.mark()
            answer = await me.whoami()                                           # expired: refreshed by B
            log = me.transcript(mark)
            assert answer["sub"] == user, log
            assert me.authorizations == 1, f"the client authorized again instead of refreshing on B:\n{log}"
            refreshes = [e.status for e in me.since(mark) if e.path == "/oauth/files/token"]
            assert refreshes == [200], f"B refreshed the tokens A issued:\n{log}"

        # A client process started afresh from the same storage is served by B with the stored tokens.
        async with McpUser(t.mcp_url, user, storage) as again:
            assert (await again.whoami())["sub"] == user, again.transcript()
            assert again.authorizations == 0 and again.storage.client_info_writes == 0, again.transcript()
        assert balancer.connections > served_by_a
        assert upstream.stats(user)["refresh_ok"] == 1
        grants = t.grants()
        assert [g["subject"] for g in grants] == [user]
    finally:
        balancer.stop()

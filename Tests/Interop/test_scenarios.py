"""Interop scenarios against the real `tollgate serve`: the official mcp 2.3.0 client in front,
django-oauth-toolkit 3.4.1 upstream, an mcp SDK server behind."""
from __future__ import annotations

import re
import time

import anyio
import httpx2
import pytest

from conftest import PROXY_ACCESS_TTL, UPSTREAM_ACCESS_TTL
from fixtures.client import McpUser

pytestmark = pytest.mark.anyio

# Past both access-token lifetimes (proxy 5 s, upstream 6 s), with a margin for slow machines.
EXPIRY_WAIT = max(PROXY_ACCESS_TTL, UPSTREAM_ACCESS_TTL) + 1.0


def assert_challenge(header: str | None, tollgate) -> None:
    """The gateway's 401 challenge, parameters in any order."""
    assert header is not None, "401 without WWW-Authenticate"
    assert header.startswith("Bearer "), header
    params = dict(re.findall(r'(\w+)="([^"]*)"', header))
    prm = f"{tollgate.base_url}/.well-known/oauth-protected-resource/mcp/{tollgate.slug}"
    assert params.get("error") == "invalid_token", header
    assert params.get("resource_metadata") == prm, header


def gateway_401s(me: McpUser, mark: int) -> list:
    return [e for e in me.since(mark) if e.status == 401 and e.path.startswith("/mcp/")]


# Grant statuses of a usable grant; "expiring" is normal with lifetimes of a few seconds.
LIVE = ("active", "expiring", "expired")


def only_grant(tollgate, user: str, live: bool = False) -> dict:
    """The one grant of `user` (the one live grant when `live`)."""
    grants = [g for g in tollgate.grants() if g.get("subject") == user and (not live or g["status"] in LIVE)]
    assert len(grants) == 1, f"expected one {'live ' if live else ''}grant for {user}, got {grants}"
    return grants[0]


async def sleep_until(deadline: float) -> None:
    """The expiry scenarios legitimately wait for real token lifetimes to run out."""
    await anyio.sleep(max(0.0, deadline - time.time()))


async def test_discovery_registration_consent_and_first_call(tollgate, upstream, backend, user, tmp_path):
    # The unauthenticated request a client starts with, seen raw.
    async with httpx2.AsyncClient() as http:
        r = await http.post(tollgate.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"Accept": "application/json, text/event-stream"})
        assert r.status_code == 401, r.text
        assert_challenge(r.headers.get("www-authenticate"), tollgate)
        prm = (await http.get(f"{tollgate.base_url}/.well-known/oauth-protected-resource/mcp/files")).json()
        asm = (await http.get(f"{tollgate.base_url}/.well-known/oauth-authorization-server/oauth/files")).json()
    assert prm["resource"] == tollgate.mcp_url
    assert asm["issuer"] == prm["authorization_servers"][0] == f"{tollgate.base_url}/oauth/files"

    async with McpUser(tollgate.mcp_url, user, tmp_path / "client.json") as me:
        answer = await me.whoami()
        log = me.transcript()

        assert answer["sub"] == user, log
        assert me.authorizations == 1 and me.storage.client_info_writes == 1, log
        paths = [(e.method, e.path, e.status) for e in me.exchanges]
        assert ("POST", "/oauth/files/register", 201) in paths, log
        assert ("POST", "/oauth/files/token", 200) in paths, log
        assert any(p[1] == "/oauth/files/callback" and p[2] == 302 for p in paths), log
        assert any(p[1] == "/authorize/" and p[2] == 302 for p in paths), log  # the upstream login
        assert_challenge(gateway_401s(me, 0)[0].www_authenticate, tollgate)

        # The consent page: a plain form, never framed.
        assert me.agent.consent_pages, f"no consent page was shown:\n{log}"
        csp = me.agent.consent_pages[0].headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, csp

        # A second call rides on the same tokens.
        mark = me.mark()
        assert (await me.whoami())["sub"] == user
        assert [e.status for e in me.since(mark) if e.path.startswith("/oauth/")] == []

    grant = only_grant(tollgate, user)
    assert grant["status"] in LIVE, grant
    assert upstream.stats(user)["code_exchanges"] == 1
    assert not any(s["proxy_token"] for s in backend.seen()), "the gateway forwarded its own token"


async def test_expiry_refreshes_proxy_and_upstream_tokens(tollgate, upstream, backend, user, tmp_path):
    async with McpUser(tollgate.mcp_url, user, tmp_path / "client.json") as me:
        first = await me.whoami()
        authorized_at = time.time()
        assert first["sub"] == user
        before = upstream.stats(user)

        await sleep_until(authorized_at + EXPIRY_WAIT)
        mark = me.mark()
        second = await me.whoami()
        log = me.transcript(mark)

        assert second["sub"] == user, log
        assert second["token"] != first["token"], "the backend got the expired upstream token again"
        assert me.authorizations == 1, f"the client re-authorized instead of refreshing:\n{log}"
        assert gateway_401s(me, mark) == [], log
        refreshes = [e for e in me.since(mark) if e.path == "/oauth/files/token"]
        assert [e.status for e in refreshes] == [200], log

    after = upstream.stats(user)
    assert after["refresh_failed"] == 0, after
    assert (before["refresh_ok"], after["refresh_ok"]) == (0, 1), (
        f"the upstream served {before['refresh_ok']} refresh(es) before expiry and {after['refresh_ok']} in all; "
        f"expected 0 then exactly 1: {after['token_requests']}")
    grant = only_grant(tollgate, user)
    assert grant["status"] in LIVE, grant


async def test_grant_revoked_by_admin_forces_reauthorization(tollgate, upstream, backend, user, tmp_path):
    async with McpUser(tollgate.mcp_url, user, tmp_path / "client.json") as me:
        assert (await me.whoami())["sub"] == user
        grant = only_grant(tollgate, user)

        tollgate.cli("grant", "revoke", str(grant["id"]))  # another process, same store

        mark = me.mark()
        answer = await me.whoami()
        log = me.transcript(mark)
        assert answer["sub"] == user, log
        rejected = gateway_401s(me, mark)
        assert rejected, f"the revoked grant's token was not refused:\n{log}"
        assert_challenge(rejected[0].www_authenticate, tollgate)
        assert me.authorizations == 2, log
        assert me.storage.client_info_writes == 1, f"the client registered again:\n{log}"

    assert tollgate.grant(grant["id"])["status"] == "revoked"
    assert only_grant(tollgate, user, live=True)["id"] != grant["id"]
    assert len(tollgate.clients()) == 1


async def test_upstream_refresh_token_revoked_needs_reauthorization(tollgate, upstream, backend, user, tmp_path):
    async with McpUser(tollgate.mcp_url, user, tmp_path / "client.json") as me:
        assert (await me.whoami())["sub"] == user
        authorized_at = time.time()
        grant = only_grant(tollgate, user)
        assert upstream.revoke_refresh_tokens(user) >= 1

        await sleep_until(authorized_at + EXPIRY_WAIT)
        mark = me.mark()
        answer = await me.whoami()  # 401, then the client authorizes again
        log = me.transcript(mark)

        # The client's proxy refresh is refused (Tollgate refreshes upstream first and gets invalid_grant),
        # or its proxy token is; either way the gateway then answers 401 with the challenge.
        refused = [e for e in me.since(mark) if e.path == "/oauth/files/token" and e.status != 200]
        assert all(e.status == 400 and '"invalid_grant"' in (e.body or "") for e in refused), log
        rejected = gateway_401s(me, mark)
        assert rejected, f"no 401 from the gateway after the upstream refused the refresh:\n{log}"
        assert_challenge(rejected[0].www_authenticate, tollgate)
        assert answer["sub"] == user, log
        assert me.authorizations == 2, log

    shown = tollgate.grant(grant["id"])
    assert shown["status"] == "needs-reauth", shown
    text = tollgate.cli("grant", "show", str(grant["id"])).stdout
    assert "needs-reauth" in text or "re-auth" in text, text
    stats = upstream.stats(user)
    failed = [e for e in stats["token_requests"] if e["grant_type"] == "refresh_token" and e["status"] != 200]
    assert failed and all(e["error"] == "invalid_grant" for e in failed), stats["token_requests"]


@pytest.mark.proxy_access_ttl(300)
async def test_gateway_refuses_a_grant_whose_upstream_refresh_failed(tollgate, upstream, backend, user, tmp_path):
    """The gateway rule on its own: a valid proxy token whose grant lost its upstream authorization gets the 401
    challenge (here the refresh is forced from the CLI, the code path the gateway runs)."""
    async with McpUser(tollgate.mcp_url, user, tmp_path / "client.json") as me:
        assert (await me.whoami())["sub"] == user
    grant = only_grant(tollgate, user)
    assert upstream.revoke_refresh_tokens(user) >= 1

    tollgate.cli("grant", "refresh", str(grant["id"]), check=False)
    assert tollgate.grant(grant["id"])["status"] == "needs-reauth"

    access_token = (await me.storage.get_tokens()).access_token  # still valid for minutes
    async with httpx2.AsyncClient() as http:
        r = await http.post(tollgate.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"Authorization": f"Bearer {access_token}",
                                     "Accept": "application/json, text/event-stream"})
    assert r.status_code == 401, r.text
    assert_challenge(r.headers.get("www-authenticate"), tollgate)


async def test_serve_restart_keeps_registration_and_tokens(tollgate, upstream, backend, user, tmp_path):
    storage = tmp_path / "client.json"
    async with McpUser(tollgate.mcp_url, user, storage) as me:
        assert (await me.whoami())["sub"] == user
        authorized_at = time.time()

        assert tollgate.restart() == 0  # SIGTERM stops it cleanly; same database, same port

        mark = me.mark()
        assert (await me.whoami())["sub"] == user
        assert gateway_401s(me, mark) == [], me.transcript(mark)

        await sleep_until(authorized_at + EXPIRY_WAIT)
        mark = me.mark()
        assert (await me.whoami())["sub"] == user, me.transcript(mark)
        log = me.transcript(mark)
        assert gateway_401s(me, mark) == [], log
        assert [e.status for e in me.since(mark) if e.path == "/oauth/files/token"] == [200], log
        assert me.authorizations == 1 and me.storage.client_info_writes == 1, log

    # A client process started afresh from the same storage carries on too.
    async with McpUser(tollgate.mcp_url, user, storage) as again:
        assert (await again.whoami())["sub"] == user, again.transcript()
        assert again.authorizations == 0 and again.storage.client_info_writes == 0, again.transcript()

    assert len(tollgate.clients()) == 1
    assert only_grant(tollgate, user)["status"] in LIVE

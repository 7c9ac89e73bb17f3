"""The peers themselves, before any scenario relies on them: the upstream provider behaves as the
scenarios assume, the MCP backend answers `whoami` with an upstream token, and Tollgate's admin CLI
discovers the upstream through OIDC discovery."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from fixtures.upstream import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.anyio

CALLBACK = "http://127.0.0.1:40123/oauth/files/callback"  # any loopback port: RFC 8252 §7.3


async def upstream_login(upstream, user: str) -> dict:
    """Authorization code + PKCE at the upstream as Tollgate does it; returns the token response."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "scope": "openid",
                       "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256"})
    async with httpx2.AsyncClient() as http:
        r = await http.get(f"{upstream.issuer}/authorize/?{query}", headers={"X-Interop-User": user})
        assert r.status_code == 302, r.text[:500]
        location = r.headers["location"]
        assert location.startswith(CALLBACK), location
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert params["state"] == "s1" and params.get("iss") == upstream.issuer, params
        r = await http.post(f"{upstream.issuer}/token/", auth=(CLIENT_ID, CLIENT_SECRET),
                            data={"grant_type": "authorization_code", "code": params["code"],
                                  "redirect_uri": CALLBACK, "code_verifier": verifier})
        assert r.status_code == 200, r.text
        return r.json()


async def upstream_refresh(upstream, refresh_token: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{upstream.issuer}/token/", auth=(CLIENT_ID, CLIENT_SECRET),
                               data={"grant_type": "refresh_token", "refresh_token": refresh_token})


async def test_upstream_login_refresh_and_revocation(upstream, user):
    tokens = await upstream_login(upstream, user)
    assert tokens["expires_in"] <= upstream.access_ttl
    claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    assert claims["sub"] == user and claims["iss"] == upstream.issuer

    async with httpx2.AsyncClient() as http:
        r = await http.get(upstream.userinfo, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200 and r.json() == {"sub": user}

    r = await upstream_refresh(upstream, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    stats = upstream.stats(user)
    assert (stats["code_exchanges"], stats["refresh_ok"], stats["refresh_failed"]) == (1, 1, 0), stats

    assert upstream.revoke_refresh_tokens(user) == 1
    r = await upstream_refresh(upstream, rotated["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert upstream.stats(user)["refresh_failed"] == 1


async def test_backend_whoami_with_an_upstream_token(upstream, backend, user):
    tokens = await upstream_login(upstream, user)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(backend.mcp_url, http_client=http)) as client:
            result = await client.call_tool("whoami", {})
    assert not result.is_error, result
    assert json.loads(result.content[0].text)["sub"] == user
    assert backend.seen()[-1]["proxy_token"] is False


def test_tollgate_discovers_the_upstream_through_oidc(tollgate_cli, upstream):
    """`provider add --kind oidc --issuer <origin>` against django-oauth-toolkit's discovery document
    (issuer without a trailing slash, endpoints with one)."""
    text = tollgate_cli.cli("provider", "show", "files").stdout
    assert f"{upstream.issuer}/authorize/" in text, text
    assert f"{upstream.issuer}/token/" in text, text
    assert f"{upstream.issuer}/userinfo/" in text, text

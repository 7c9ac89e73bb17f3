"""Step-up authorization with the official mcp 2.3.0 client: a tool that needs a scope the first token lacks gets
403 insufficient_scope; the client re-authorizes by itself (the union of what it had and the challenge's scope),
Tollgate asks the user only for the new scope, extends the same grant and asks django-oauth-toolkit for the
union; the call then succeeds with the new upstream token."""
from __future__ import annotations

import re

import pytest

from fixtures.client import McpUser
from fixtures.tollgate import Tollgate

pytestmark = pytest.mark.anyio


@pytest.fixture
def stepup_tollgate(serve_ready, upstream, backend, tmp_path, log_root, request) -> Tollgate:
    """`tollgate serve` for a server whose `whoami` tool needs `files.write` (implying `files.read`); both are
    upstream scopes too (the provider lists them), so the upstream is asked for whichever the grant carries."""
    log_dir = log_root / request.node.name
    log_dir.mkdir(parents=True, exist_ok=True)
    request.node.interop_log_dir = log_dir
    t = Tollgate(serve_ready, tmp_path, log_dir)
    t.add_server("files", backend.mcp_url, upstream, access_ttl=60, scopes="files.read files.write", name="Files",
                 provider_scopes="openid files.read files.write",
                 server_args=("--tool-scope", "whoami=files.write", "--scope-implies", "files.write=files.read"))
    t.start()
    try:
        yield t
    finally:
        t.stop()


def challenge_params(header: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


async def test_step_up_reauthorizes_for_the_union_and_extends_the_grant(stepup_tollgate, upstream, user, tmp_path):
    t = stepup_tollgate
    shown = t.cli_json("server", "show", "files")
    assert shown["policy"]["scopeRules"]["toolScopes"] == {"whoami": ["files.write"]}, shown

    async with McpUser(t.mcp_url, user, tmp_path / "client.json") as me:
        # The first authorization asks for the challenge's scope: files.write is left for step-up.
        first = await me.call("bearer_digest")
        assert not first["proxy_token"], me.transcript()
        assert me.authorizations == 1, me.transcript()
        first_challenge = next(e for e in me.exchanges if e.status == 401 and e.path == "/mcp/files")
        assert challenge_params(first_challenge.www_authenticate)["scope"] == "files.read", first_challenge.www_authenticate
        grant = next(g for g in t.grants() if g.get("subject") == user)
        assert "files.write" not in grant["scopes"], grant
        assert upstream.stats(user)["access_token_scopes"][-1].split() == ["openid", "files.read"]

        mark = me.mark()
        answer = await me.whoami()
        log = me.transcript(mark)
        assert answer["sub"] == user, log
        refusals = [e for e in me.since(mark) if e.status == 403 and e.path == "/mcp/files"]
        assert len(refusals) == 1, log
        params = challenge_params(refusals[0].www_authenticate)
        assert params["error"] == "insufficient_scope", refusals[0].www_authenticate
        assert params["scope"] == "files.write", refusals[0].www_authenticate
        assert params["resource_metadata"] == f"{t.base_url}/.well-known/oauth-protected-resource/mcp/files"
        assert me.authorizations == 2, log

        # The second consent page asked only for the new scope and listed the granted one as kept.
        page = me.agent.consent_pages[-1].html
        assert '<code>files.write</code> <strong class="new-scope">(new)</strong>' in page, page
        assert '<ul class="granted-scopes"><li><code>files.read</code></li>' in page, page

        # One grant, extended: the console and CLI show the same grant's scopes growing.
        grants = [g for g in t.grants() if g.get("subject") == user]
        assert [g["id"] for g in grants] == [grant["id"]], grants
        assert {"files.read", "files.write"} <= set(grants[0]["scopes"]), grants
        events = [e["action"] for e in t.cli_json("audit", "--grant", str(grant["id"]))]
        assert "grant.extend" in events, events
        # django-oauth-toolkit was asked for the union.
        scopes = upstream.stats(user)["access_token_scopes"]
        assert set(scopes[-1].split()) == {"openid", "files.read", "files.write"}, scopes

        # The extended grant keeps working without another authorization.
        assert (await me.whoami())["sub"] == user
        assert me.authorizations == 2

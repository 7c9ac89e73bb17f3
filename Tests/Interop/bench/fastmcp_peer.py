"""FastMCP 4.1.6 `OAuthProxy` in front of the same MCP backend and upstream as Tollgate, set up the
way that is fair to it (INTEROP "Measuring the peer fairly"):

- `create_proxy(StreamableHttpTransport(backend), auth=OAuthProxy(...))`, opaque upstream tokens
  checked by `IntrospectionTokenVerifier` with its cache on (`cache_ttl_seconds`) and a 60 s introspection
  timeout: when its cache expires under load, every connection re-introspects at once and
  django-oauth-toolkit's ~190 ms PBKDF2 client check serialises them (64 connections: ~12 s), so the
  default 10 s turned valid tokens into 401s for a whole measured round;
- one shared SSL context for every backend client (its default builds one per connection);
- `forward_resource=False` (else django-oauth-toolkit audience-binds the upstream token and its
  userinfo rejects it), the `openid` scope required;
- the backend receives the *upstream* access token, not FastMCP's own JWT.

    python Tests/Interop/bench/fastmcp_peer.py --port 8300 --backend http://127.0.0.1:8200/mcp \
        --issuer http://127.0.0.1:8100        # client id/secret: the interop upstream application

It uses the upstream application of fixtures/upstream.py; its callback path is that application's
(`/oauth/files/callback`, any loopback port), and the MCP endpoint is `/mcp/files` like Tollgate's.
"""
from __future__ import annotations

import argparse
import os
import ssl
import sys
from pathlib import Path

import httpx2
import uvicorn
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.server import create_proxy
from fastmcp.server.auth import OAuthProxy
from fastmcp.server.auth.providers.introspection import IntrospectionTokenVerifier
from fastmcp.server.dependencies import get_access_token
from key_value.aio.stores.memory import MemoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixtures.upstream import CALLBACK_PATH, CLIENT_ID, CLIENT_SECRET  # noqa: E402

SHARED_SSL = ssl.create_default_context()


class UpstreamBearer(httpx2.Auth):
    """Sends the caller's upstream access token (what FastMCP validated) instead of FastMCP's JWT."""

    def auth_flow(self, request):
        token = get_access_token()
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token.token}"
        yield request


def backend_client(headers=None, timeout=None, auth=None, **kwargs) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers=headers, auth=auth, verify=SHARED_SSL, follow_redirects=True,
                              timeout=timeout or httpx2.Timeout(30.0, read=300.0))


def build(args):
    base = f"http://127.0.0.1:{args.port}"
    secret = os.environ.get(args.client_secret_env) or CLIENT_SECRET
    verifier = IntrospectionTokenVerifier(
        introspection_url=f"{args.issuer}/introspect/", client_id=args.client_id, client_secret=secret,
        required_scopes=["openid"], cache_ttl_seconds=args.cache_ttl, timeout_seconds=args.introspection_timeout,
        base_url=base)
    auth = OAuthProxy(
        upstream_authorization_endpoint=f"{args.issuer}/authorize/",
        upstream_token_endpoint=f"{args.issuer}/token/",
        upstream_revocation_endpoint=f"{args.issuer}/revoke_token/",
        upstream_client_id=args.client_id, upstream_client_secret=secret,
        token_verifier=verifier, base_url=base, redirect_path=CALLBACK_PATH.format(slug="files"),
        valid_scopes=["openid"], forward_resource=False, client_storage=MemoryStore(),
        jwt_signing_key=os.urandom(32))
    backend = StreamableHttpTransport(args.backend, auth=UpstreamBearer(), httpx_client_factory=backend_client)
    return create_proxy(backend, name="fastmcp-peer", auth=auth).http_app(path="/mcp/files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", required=True, help="the MCP backend URL (backend_server.py)")
    parser.add_argument("--issuer", required=True, help="the django-oauth-toolkit origin")
    parser.add_argument("--client-id", default=CLIENT_ID)
    parser.add_argument("--client-secret-env", default="UPSTREAM_SECRET")
    parser.add_argument("--cache-ttl", type=int, default=60, help="introspection cache, seconds")
    parser.add_argument("--introspection-timeout", type=int, default=60, help="introspection call timeout, seconds")
    args = parser.parse_args()
    uvicorn.run(build(args), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""The official `mcp` client in client ID metadata document mode (CIMD): its `client_id` is the URL of a document
served over HTTPS on loopback by the test (throwaway CA, trusted by Tollgate through `SSL_CERT_FILE`), with
`serve --client-metadata-allow-loopback`. No registration happens; the grant belongs to the document client."""
from __future__ import annotations

import pytest

from fixtures.client import REDIRECT_URI, McpUser
from fixtures.document_server import DocumentServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def documents(tmp_path):
    directory = tmp_path / "documents"
    directory.mkdir()
    server = DocumentServer(directory, redirect_uris=[REDIRECT_URI], client_name="Interop CIMD client")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tollgate_cimd(serve_ready, tollgate_cli, documents):
    tollgate_cli.env["SSL_CERT_FILE"] = str(documents.ca)
    tollgate_cli.start(extra_args=("--client-metadata-allow-loopback",))
    try:
        yield tollgate_cli
    finally:
        tollgate_cli.stop()


async def test_cimd_client_authorizes_without_registering_and_calls_a_tool(tollgate_cimd, documents, user, tmp_path):
    t = tollgate_cimd
    async with McpUser(t.mcp_url, user, tmp_path / "storage.json", client_metadata_url=documents.url) as me:
        who = await me.whoami()
        assert who["sub"] == user, me.transcript()
        assert not [e for e in me.exchanges if e.path.endswith("/register")], me.transcript()
        authorize = [e for e in me.exchanges if e.path.endswith("/authorize")]
        assert authorize and "client_id=https" in authorize[0].url, me.transcript()
        consent = me.agent.consent_pages
        assert consent and "identified by a document at <strong>127.0.0.1</strong>" in consent[0].html
        assert "only to this computer" in consent[0].html, "a localhost redirect URI: the impersonation warning"

    assert documents.requests == ["/client.json"], "one fetch for the authorization and its consent"
    document_clients = [c for c in t.clients() if c["registeredBy"] == "metadata-document"]
    assert len(document_clients) == 1, t.clients()
    client = document_clients[0]
    assert client["clientID"] == documents.url and client["name"] == "Interop CIMD client"
    assert client["metadataDocument"]["url"] == documents.url and "lastFetchedAt" in client["metadataDocument"]
    grants = t.grants()
    assert len(grants) == 1 and grants[0]["clientID"] == client["id"], grants
    assert "client-metadata-allow-loopback is on" in t.serve.log_text()

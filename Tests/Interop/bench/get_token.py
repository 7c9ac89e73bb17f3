"""Authorizes with the official mcp client (headless, as the interop tests do) against an MCP URL
behind Tollgate or the FastMCP peer, calls `whoami` once, and prints the access token for wrk:

    MCP_TOKEN=$(python Tests/Interop/bench/get_token.py http://127.0.0.1:8080/mcp/files --user alice)

Options (all optional; without them it behaves as above):

- `--storage PATH` keeps the client's storage (registered client and tokens, JSON) in PATH, e.g. to
  use its refresh token afterwards; by default it goes to a temporary directory.
- `--raw-tool TOOL` authorizes with the same `OAuthClientProvider` on a plain HTTP client and makes one
  self-contained (2026-07-28, no session) `tools/call` of TOOL instead of opening an MCP session and
  calling `whoami`: for backends that do not speak full MCP, such as a canned nginx reply.

`authorize()` does the same from Python and returns the client's tokens.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import anyio
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixtures.client import McpUser  # noqa: E402

APPROVE = (("decision", "approve"), ("action", "approve"))  # Tollgate's consent form, FastMCP's
PROTOCOL = "2026-07-28"


def tools_call(tool: str, arguments: dict | None = None) -> tuple[dict, dict]:
    """Headers and body of a self-contained 2026-07-28 `tools/call` (what bench/mcp_tools_call.lua sends)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": PROTOCOL, "Mcp-Method": "tools/call", "Mcp-Name": tool}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments or {},
                       "_meta": {"io.modelcontextprotocol/protocolVersion": PROTOCOL,
                                 "io.modelcontextprotocol/clientCapabilities": {}}}}
    return headers, body


async def authorize(url: str, user: str, storage: Path | None = None, raw_tool: str | None = None):
    """Runs the real OAuth flow of the official client against `url` as `user`; returns its `OAuthToken`.

    Checks the first call: `whoami` answers `user` (MCP session), or the raw `tools/call` answers a result."""
    storage = storage or Path(tempfile.mkdtemp()) / "client.json"
    if raw_tool is None:
        async with McpUser(url, user, storage, approve_buttons=APPROVE) as me:
            answer = await me.whoami()
            if answer.get("sub") != user:
                raise SystemExit(f"whoami answered {answer}, expected sub {user}")
    else:
        me = McpUser(url, user, storage, approve_buttons=APPROVE)
        headers, body = tools_call(raw_tool)
        async with httpx2.AsyncClient(auth=me.provider, timeout=httpx2.Timeout(30, read=60)) as http:
            r = await http.post(url, headers=headers, content=json.dumps(body))
            if r.status_code != 200 or '"result"' not in r.text or '"isError":true' in r.text.replace(" ", ""):
                raise SystemExit(f"tools/call {raw_tool} answered {r.status_code}: {r.text[:300]}\n{me.transcript()}")
    tokens = await me.storage.get_tokens()
    if tokens is None:
        raise SystemExit(f"no tokens after authorizing at {url}:\n{me.transcript()}")
    return tokens


async def main(url: str, user: str, storage: Path | None, raw_tool: str | None) -> None:
    print((await authorize(url, user, storage, raw_tool)).access_token)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--storage", type=Path, help="keep the client's storage (JSON) here")
    parser.add_argument("--raw-tool", help="no MCP session: one self-contained tools/call of this tool")
    args = parser.parse_args()
    anyio.run(main, args.url, args.user, args.storage, args.raw_tool)

"""Authorizes with the official mcp client (headless, as the interop tests do) against an MCP URL
behind Tollgate or the FastMCP peer, calls `whoami` once, and prints the access token for wrk:

    MCP_TOKEN=$(python Tests/Interop/bench/get_token.py http://127.0.0.1:8080/mcp/files --user alice)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixtures.client import McpUser  # noqa: E402


async def main(url: str, user: str) -> None:
    storage = Path(tempfile.mkdtemp()) / "client.json"
    async with McpUser(url, user, storage, approve_buttons=(("decision", "approve"), ("action", "approve"))) as me:
        answer = await me.whoami()
        if answer.get("sub") != user:
            raise SystemExit(f"whoami answered {answer}, expected sub {user}")
    print((await me.storage.get_tokens()).access_token)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--user", default="alice")
    args = parser.parse_args()
    anyio.run(main, args.url, args.user)

"""The MCP backend: answers any POST with a JSON-RPC result and records the bearer of each request."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingBackend:
    """A JSON-RPC responder on 127.0.0.1 that remembers, per grant, the last upstream bearer it received.

    The grant is read from the JSON-RPC id, which the traffic sends as `"<grant>-<n>"`."""

    def __init__(self):
        self.last_bearer: dict[str, str] = {}
        self.requests = 0
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    rpc_id = json.loads(body).get("id")
                except (ValueError, AttributeError):
                    rpc_id = None
                auth = self.headers.get("Authorization", "")
                with backend._lock:
                    backend.requests += 1
                    if isinstance(rpc_id, str) and auth.startswith("Bearer "):
                        backend.last_bearer[rpc_id.rsplit("-", 1)[0]] = auth[len("Bearer "):]
                answer = json.dumps({"jsonrpc": "2.0", "id": rpc_id, "result": {"ok": True}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # Tollgate killed mid-request: nothing to report
        self.port = self.server.server_address[1]
        self.mcp_url = f"http://127.0.0.1:{self.port}/mcp"
        self._thread = threading.Thread(target=self.server.serve_forever, name="mcp-backend", daemon=True)

    def start(self) -> "RecordingBackend":
        self._thread.start()
        return self

    def bearers(self) -> dict[str, str]:
        with self._lock:
            return dict(self.last_bearer)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

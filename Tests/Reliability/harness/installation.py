"""The processes of one installation: `tollgate dev-upstream`, the tollgate CLI over a fresh database,
and one or more `tollgate serve` on it. Built on the interop suite's process helpers."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

from fixtures.procs import ManagedProcess, child_env, free_port  # Tests/Interop (conftest puts it on sys.path)

UPSTREAM_CLIENT_ID = "tollgate-dev"
UPSTREAM_SECRET = "dev-secret"
SLUG = "files"
UPSTREAM_READY = re.compile(r"dev-upstream listening on http://127\.0\.0\.1:(\d+)")
SERVE_READY = re.compile(r"tollgate serve listening on (http://\S+)")
UPSTREAM_TIMEOUT_SECONDS = 3


def http_json(method: str, url: str, body: dict | None = None, timeout: float = 10) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


class DevUpstream:
    """`tollgate dev-upstream` on a free port; behaviour changed at run time through `/_dev/config`."""

    def __init__(self, binary: str, log_dir: Path, access_ttl: int):
        self.process = ManagedProcess("dev-upstream", [binary, "dev-upstream", "--listen", "127.0.0.1:0",
                                                       "--access-ttl", str(access_ttl)],
                                      log_dir / "dev-upstream.log", env=child_env())
        self.port = 0

    def start(self) -> "DevUpstream":
        mark = len(self.process.log_text())  # the log may hold an earlier run's lines

        def ready(p: ManagedProcess) -> bool:
            m = UPSTREAM_READY.search(p.log_text()[mark:])
            if m:
                self.port = int(m.group(1))
            return m is not None

        self.process.start(ready, timeout=30)
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self, **changes) -> dict:
        """Reads the behaviour, changes `changes` (DevUpstreamBehaviour fields) and writes it back."""
        behaviour = http_json("GET", self.base_url + "/_dev/config")
        behaviour.update(changes)
        if behaviour.get("refreshFailure") is None:
            behaviour.pop("refreshFailure", None)
        return http_json("POST", self.base_url + "/_dev/config", behaviour)

    def stats(self) -> dict:
        return http_json("GET", self.base_url + "/_dev/stats")

    def token_valid(self, upstream_token: str) -> bool:
        """Whether `/userinfo` accepts `upstream_token`."""
        request = urllib.request.Request(self.base_url + "/userinfo",
                                         headers={"Authorization": f"Bearer {upstream_token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status == 200
        except urllib.error.HTTPError:
            return False

    def pause(self) -> None:
        os.kill(self.process.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.running:
            self.resume()  # a stopped process would not act on SIGTERM
        self.process.stop()


class Installation:
    """A fresh database configured with the server `files` and its oauth2 provider, and its `serve` processes.

    `database` is a SQLite file (default: one in `workdir`, its key file created beside it on first use) or a
    `postgres://` URL of an empty database; for PostgreSQL every process gets the same random master key.
    `serve_database` is how `serve` reaches that database when not as the CLI does (through a fault proxy)."""

    def __init__(self, binary: str, workdir: Path, log_dir: Path, database: str | None = None,
                 serve_database: str | None = None):
        self.binary = binary
        self.db = database or str(workdir / "tollgate.sqlite")
        self.serve_db = serve_database or self.db
        self.log_dir = log_dir
        self.env = child_env(UPSTREAM_SECRET=UPSTREAM_SECRET)
        self.env.pop("TOLLGATE_MASTER_KEY", None)  # the key file beside the database is created on first use
        if self.db.startswith("postgres"):
            self.env["TOLLGATE_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        self.serves: dict[int, ManagedProcess] = {}  # port -> process
        self.public_url: str | None = None
        self.starts = 0

    def cli(self, *args: str) -> str:
        # --create: the first call makes the SQLite store (no-op on PostgreSQL); `serve` then finds it.
        r = subprocess.run([self.binary, *args, "--db", str(self.db), "--create"], capture_output=True, text=True,
                           env=self.env, timeout=60)
        with open(self.log_dir / "cli.log", "a") as log:
            log.write(f"$ tollgate {' '.join(args)}  -> {r.returncode}\n{r.stdout[:4000]}{r.stderr}\n")
        if r.returncode != 0:
            raise AssertionError(f"tollgate {' '.join(args)} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return r.stdout

    def configure(self, backend_mcp_url: str, upstream: DevUpstream, token_endpoint: str) -> None:
        self.cli("server", "add", SLUG, "--upstream-mcp", backend_mcp_url, "--scopes", "files.read")
        self.cli("provider", "add", "--server", SLUG, "--kind", "oauth2",
                 "--authorization-endpoint", upstream.base_url + "/authorize", "--token-endpoint", token_endpoint,
                 "--client-id", UPSTREAM_CLIENT_ID, "--client-secret-env", "UPSTREAM_SECRET",
                 "--auth-method", "client_secret_basic", "--scopes", "openid offline_access")

    def grants(self) -> list[dict]:
        return json.loads(self.cli("grant", "list", "--server", SLUG, "--json", "--limit", "1000"))

    def grant(self, grant_id: int) -> dict:
        return json.loads(self.cli("grant", "show", str(grant_id), "--json"))

    def start_serve(self, port: int | None = None) -> int:
        """Starts `serve` on `port` (a free one if none) and waits for its ready line; returns the port.
        Every `serve` of the installation uses the first one's URL as its public URL."""
        port = port or free_port()
        if self.public_url is None:
            self.public_url = f"http://127.0.0.1:{port}"
        self.starts += 1
        process = ManagedProcess(
            f"tollgate serve :{port} #{self.starts}",
            [self.binary, "serve", "--db", str(self.serve_db), "--listen", f"127.0.0.1:{port}",
             "--public-url", self.public_url, "--upstream-timeout", f"{UPSTREAM_TIMEOUT_SECONDS}s",
             "--log-level", "warning"],
            self.log_dir / f"serve-{port}.log", env=self.env)
        mark = len(process.log_text())
        process.start(lambda p: SERVE_READY.search(p.log_text()[mark:]) is not None, timeout=30)
        self.serves[port] = process
        return port

    def kill_serve(self, port: int) -> None:
        """`kill -9` of the `serve` on `port`, reaped at once."""
        process = self.serves.pop(port)
        process.proc.kill()
        process.proc.wait(10)
        with open(process.log_path, "ab") as log:
            log.write(f"==== {process.name} killed with SIGKILL\n".encode())

    def stop(self) -> None:
        for port in list(self.serves):
            self.serves.pop(port).stop()

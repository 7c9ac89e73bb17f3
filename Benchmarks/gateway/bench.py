"""Gateway benchmark: Tollgate's MCP gateway against the direct path and against FastMCP's OAuthProxy,
plus the refresh single-flight storms, in ONE run on loopback. Run it through `run.sh` (same folder),
which prepares the interop venv, wrk and nginx:

    Benchmarks/gateway/run.sh [--duration 10] [--rounds 2] [--connections 64] ...

Peers (the interop suite's fixtures, Tests/Interop/fixtures and Tests/Interop/bench):
- two django-oauth-toolkit upstreams: "long" (access tokens live 1 h: no refresh during throughput
  runs) and "short" (20 s: the storms need a token that has just expired);
- the mcp 2.3.0 SDK backend (`echo` for throughput, `whoami` where the forwarded token must be valid);
- FastMCP 4.1.6 OAuthProxy in front of the same backend and upstream (bench/fastmcp_peer.py, as is);
- nginx serving one canned JSON-RPC reply (pure proxy overhead);
- `tollgate serve` (release build) three times over one database: as shipped (Swift concurrency on NIO's event
  loops, its access log on), with `--access-log off`, and with TOLLGATE_CONCURRENCY_POOL=1 (Swift's default
  executor: a thread hop per await), all at log level info,
  servers `files` (mcp backend) and `static` (nginx), both with the same OIDC provider setup;
  a third `tollgate serve` over its own database in front of the short upstream for the storms.

Every proxy token comes from the real OAuth flow of the official mcp client (bench/get_token.py).
Throughput: wrk with bench/mcp_tools_call.lua (self-contained 2026-07-28 tools/call POSTs, every reply's
body checked), each target warmed up first; the targets of a group are measured in turn, and in the
reverse order in the next round, so slow drift on this shared machine hits all of them alike.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

REPO = Path(__file__).resolve().parents[2]
INTEROP = REPO / "Tests" / "Interop"
sys.path.insert(0, str(INTEROP))
sys.path.insert(0, str(INTEROP / "bench"))

import httpx2  # noqa: E402

from fixtures.backend import start_backend  # noqa: E402
from fixtures import procs  # noqa: E402
from fixtures.procs import ManagedProcess, child_env, free_port, http_ok  # noqa: E402
from fixtures.postgres import URL_VARIABLE as POSTGRES_URL_VARIABLE, FreshDatabase  # noqa: E402
from fixtures.tollgate import Tollgate  # noqa: E402
from fixtures.upstream import CLIENT_SECRET, start_upstream  # noqa: E402
from get_token import authorize, tools_call  # noqa: E402

LUA = INTEROP / "bench" / "mcp_tools_call.lua"
FASTMCP_PEER = INTEROP / "bench" / "fastmcp_peer.py"
CLK = os.sysconf("SC_CLK_TCK")

# What the nginx backend answers to every request: the mcp backend's own `echo` reply, byte for byte.
CANNED = ('{"jsonrpc":"2.0","id":1,"result":{"content":[{"text":"pong","type":"text"}],"isError":false,'
          '"resultType":"complete","structuredContent":{"result":"pong"},'
          '"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"interop-backend","version":""}}}}')

def say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------------
# CPU accounting (from /proc: no profiler needed)


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of `pid` so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError, ValueError):
        return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of `pid`'s threads so far, summed by kind (from each thread's name), plus the
    process's user and system seconds ("user", "sys") and context switches ("switches", a count)."""
    kinds: dict[str, float] = {"user": 0.0, "sys": 0.0, "switches": 0.0}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            status = (task / "status").read_text()
        except OSError:
            continue
        if name.startswith("NIO-"):
            kind = "NIO event-loop threads"
        elif "qos" in name:  # libdispatch's global pool: Swift concurrency's executor on Linux
            kind = "dispatch/Swift-concurrency pool"
        else:
            kind = "other threads"
        kinds[kind] = kinds.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / CLK
        kinds["user"] += int(fields[11]) / CLK
        kinds["sys"] += int(fields[12]) / CLK
        kinds["switches"] += sum(int(x) for x in re.findall(r"ctxt_switches:\s+(\d+)", status))
    return kinds


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


@dataclass
class CpuGroup:
    """A named set of processes whose CPU time is charged to one role (proxy, backend, ...)."""

    name: str
    pids: list[int]
    with_children: bool = False

    def total(self) -> float:
        pids = list(self.pids)
        if self.with_children:
            pids += [c for p in self.pids for c in children(p)]
        return sum(proc_cpu(p) for p in pids)


# ---------------------------------------------------------------------------------------------------
# wrk


@dataclass
class WrkResult:
    label: str
    seconds: float
    good: int
    bad: int
    p50: float
    p99: float
    errors: str
    first_bad: str
    cpu: dict[str, float] = field(default_factory=dict)  # role -> CPU seconds during the run
    machine_busy: float = 0.0  # fraction of all cores
    threads: dict[str, float] = field(default_factory=dict)  # thread kind -> CPU seconds (split_pid's)
    counts: dict[str, int] = field(default_factory=dict)  # counter -> increase during the run

    @property
    def rps(self) -> float:
        return self.good / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.bad == 0 and not self.errors and self.good > 0

    def cpu_us_per_request(self, role: str) -> float | None:
        if role not in self.cpu or not self.good:
            return None
        return self.cpu[role] / self.good * 1e6


def settle(max_wait: float = 15.0, quiet_cores: float = 0.1) -> float:
    """Waits (bounded) until every process of this run is idle: what a previous run left in flight (a
    peer finishing requests wrk abandoned, an upstream busy hashing) must not land in the next one.
    Returns the seconds waited."""
    start = time.time()
    for _ in range(int(max_wait / 0.5)):
        pids = [p.proc.pid for p in procs.STARTED if p.running]
        pids += [c for p in pids for c in children(p)]
        before = sum(proc_cpu(p) for p in pids)
        time.sleep(0.5)
        if (sum(proc_cpu(p) for p in pids) - before) / 0.5 < quiet_cores:
            break
    return time.time() - start


def run_wrk(url: str, token: str | None, *, tool: str = "echo", expect: str = "", seconds: float, threads: int,
            connections: int, label: str = "", cpu_groups: list[CpuGroup] = (), script: Path = LUA,
            env: dict[str, str] | None = None, allow_non2xx: bool = False, split_pid: int | None = None,
            counters: dict | None = None) -> WrkResult:
    """One wrk run, once the run's processes are idle; `script` LUA (tools/call, MCP_* variables) unless
    given with its own `env`; `counters` are read before and after (their differences land in `counts`)."""
    settle()
    counts0 = {k: f() for k, f in (counters or {}).items()}
    env = child_env(**(env if env is not None else {"MCP_TOOL": tool, "MCP_EXPECT": expect, "MCP_TOKEN": token or ""}))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "--latency",
            "-s", str(script), url]
    before = {g.name: g.total() for g in cpu_groups}
    split0 = thread_cpu(split_pid) if split_pid else {}
    busy0, total0 = machine_cpu()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, total1 = machine_cpu()
    cpu = {g.name: g.total() - before[g.name] for g in cpu_groups}
    cpu["wrk"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    split = {k: v - split0.get(k, 0.0) for k, v in thread_cpu(split_pid).items()} if split_pid else {}
    if counters:
        # What the run set off is counted with it, even when it finishes after wrk stopped (requests
        # wrk abandoned at the end keep the peer and the upstream busy for a while).
        settle()
    counts = {k: f() - counts0[k] for k, f in (counters or {}).items()}
    out = r.stdout + r.stderr
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed ({r.returncode}) on {url}:\n{out}")

    def grab(pattern: str, default=None):
        m = re.search(pattern, out)
        return m.groups() if m else default

    done = grab(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b")
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
    secs = float(done[1]) * unit[done[2]] if done else seconds
    good, bad = (int(x) for x in grab(r"checked replies: (\d+) good, (\d+) bad", ("0", "0")))
    p50, p99 = (float(x) for x in grab(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", ("nan", "nan")))
    errors = []
    sock = grab(r"Socket errors: (.*)")
    if sock:
        errors.append("socket errors: " + sock[0].strip())
    non2xx = grab(r"Non-2xx or 3xx responses: (\d+)")
    if non2xx and not allow_non2xx:
        errors.append(f"non-2xx: {non2xx[0]}")
    first_bad = "; ".join(re.findall(r"first bad reply \(thread \d+\): (.*)", out))[:400]
    return WrkResult(label, secs, good, bad, p50, p99, ", ".join(errors), first_bad, cpu,
                     (busy1 - busy0) / max(1, total1 - total0), split, counts)


@dataclass
class Target:
    label: str
    url: str
    token: str | None
    roles: list[CpuGroup]
    results: list[WrkResult] = field(default_factory=list)
    counters: dict = field(default_factory=dict)  # name -> callable returning a count (e.g. upstream calls)
    warmups: list[WrkResult] = field(default_factory=list)

    def mean(self, attr: str) -> float:
        """The median over the measured rounds (robust to one round disturbed by this shared machine)."""
        values = [getattr(r, attr) for r in self.results]
        return statistics.median(values) if values else float("nan")

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.results)


def measure_group(targets: list[Target], opts, *, tool: str, expect: str) -> None:
    """Measures the targets in turn for `opts.rounds` rounds (order reversed every other round); every
    measured run follows its own warm-up (the same for every target), so that what a target does only
    now and then (a peer's cache expiring, say) lands in a warm-up and is reported there, not in a
    measured window that happens to contain it."""
    for rnd in range(opts.rounds):
        order = targets if rnd % 2 == 0 else list(reversed(targets))
        for t in order:
            w = run_wrk(t.url, t.token, tool=tool, expect=expect, seconds=opts.warmup, threads=opts.threads,
                        connections=opts.connections, label=t.label, counters=t.counters)
            t.warmups.append(w)
            if not w.ok or any(w.counts.values()):
                extra = "".join(f", {v} {k}" for k, v in w.counts.items())
                say(f"  round {rnd + 1}: {t.label:<34} warm-up: {w.good} good, {w.bad} bad"
                    f"{', ' + w.errors if w.errors else ''}{extra}" + (f"; first bad: {w.first_bad[:160]}" if w.first_bad else ""))
            r = run_wrk(t.url, t.token, tool=tool, expect=expect, seconds=opts.duration, threads=opts.threads,
                        connections=opts.connections, label=t.label, cpu_groups=t.roles, counters=t.counters)
            t.results.append(r)
            extra = "".join(f", {v} {k}" for k, v in r.counts.items())
            say(f"  round {rnd + 1}: {t.label:<34} {r.rps:9.1f} req/s  p50 {r.p50:7.2f} ms  p99 {r.p99:7.2f} ms"
                f"  ({r.good} good, {r.bad} bad{', ' + r.errors if r.errors else ''}{extra})")
            if r.first_bad:
                say(f"           first bad reply: {r.first_bad}")


def measured_table(title: str, group: list[Target], roles: list[str], opts) -> None:
    """A titled group of `echo` tools/call runs (measure_group), then its table."""
    say()
    say(title)
    measure_group(group, opts, tool="echo", expect="pong")
    say()
    table(group, roles)


def latency_probe(targets: list[Target], opts, *, tool: str, expect: str) -> None:
    """One connection, one thread: latency without queueing (what a single client sees); the targets in
    turn, in the reverse order in the next round, like measure_group."""
    for t in targets:
        run_wrk(t.url, t.token, tool=tool, expect=expect, seconds=min(2, opts.warmup), threads=1, connections=1)
    for rnd in range(opts.rounds):
        for t in (targets if rnd % 2 == 0 else list(reversed(targets))):
            r = run_wrk(t.url, t.token, tool=tool, expect=expect, seconds=opts.probe, threads=1, connections=1,
                        label=t.label, cpu_groups=t.roles)
            t.results.append(r)
            say(f"  round {rnd + 1}, 1 connection: {t.label:<24} {r.rps:9.1f} req/s  p50 {r.p50:7.3f} ms  "
                f"p99 {r.p99:7.3f} ms  ({r.good} good, {r.bad} bad{', ' + r.errors if r.errors else ''})")


def paired(a: Target, b: Target, attr: str, op) -> tuple[float, list[float]]:
    """`op(b, a)` of each round (the two measured in the same round, minutes apart at most) and their
    median: pairing within a round cancels the slow drift of this shared machine."""
    values = [op(getattr(y, attr), getattr(x, attr)) for x, y in zip(a.results, b.results)]
    return (statistics.median(values) if values else float("nan")), values


def ratio(a: Target, b: Target) -> tuple[float, list[float]]:
    return paired(a, b, "rps", lambda y, x: y / x if x else float("inf"))


def delta(a: Target, b: Target, attr: str) -> tuple[float, list[float]]:
    return paired(a, b, attr, lambda y, x: y - x)


def rounds_text(values: list[float], fmt: str) -> str:
    return "rounds " + ", ".join(format(v, fmt) for v in values)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def table(targets: list[Target], roles: list[str]) -> None:
    head = f"  {'path':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>5}  " + \
        "  ".join(f"{'CPU µs/req ' + r:>20}" for r in roles) + "  machine busy"
    say(head)
    for t in targets:
        cpus = []
        for role in roles:
            vals = [v for v in (r.cpu_us_per_request(role) for r in t.results) if v is not None]
            cpus.append(f"{statistics.median(vals):20.0f}" if vals else f"{'-':>20}")
        bad = sum(r.bad for r in t.results) + sum(1 for r in t.results if r.errors)
        say(f"  {t.label:<34} {t.mean('rps'):9.1f} {t.mean('p50'):8.2f} {t.mean('p99'):8.2f} {bad:5d}  "
            + "  ".join(cpus) + f"  {t.mean('machine_busy') * 100:8.0f} %")


# ---------------------------------------------------------------------------------------------------
# peers


def start_nginx(workdir: Path, log_dir: Path) -> tuple[ManagedProcess, int]:
    """nginx with its own config on a loopback port, answering CANNED to everything (access log off)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    root = workdir / "nginx"
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"    {k}_temp_path {root}/tmp/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = root / "nginx.conf"
    conf.write_text(f"""# Tollgate gateway benchmark: a static MCP backend (one canned JSON-RPC reply).
{user}worker_processes auto;  # Debian's default
daemon off;
pid {root}/nginx.pid;
error_log {log_dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    # keep client connections open (the default closes one after 1000 requests); same for wrk and Tollgate
    keepalive_requests 1000000;
{temp}    server {{
        listen 127.0.0.1:{port};
        location = /healthz {{ default_type application/json; return 200 '{{"ok":true}}'; }}
        location / {{ default_type application/json; return 200 '{CANNED}'; }}
    }}
}}
""")
    proc = ManagedProcess("nginx", [nginx, "-p", str(root), "-c", str(conf), "-e", str(log_dir / "nginx-error.log")],
                          log_dir / "nginx.log")
    proc.start(lambda _: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=20)
    return proc, port


def start_fastmcp(backend_url: str, issuer: str, log_dir: Path) -> tuple[ManagedProcess, int]:
    port = free_port()
    proc = ManagedProcess("fastmcp-oauthproxy", [sys.executable, str(FASTMCP_PEER), "--port", str(port),
                                                 "--backend", backend_url, "--issuer", issuer],
                          log_dir / "fastmcp.log", env=child_env(UPSTREAM_SECRET=CLIENT_SECRET, PYTHONUNBUFFERED="1"))
    meta = f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server"
    proc.start(lambda _: http_ok(meta) or http_ok(f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp/files"),
               timeout=60)
    return proc, port


def start_bare_proxy(binary: Path, upstream_url: str, log_dir: Path) -> tuple[ManagedProcess, int]:
    """`TollgateBenchmarks bare-proxy`: Tollgate's HTTP server set-up and GatewayForwarder with no token
    check, store, metrics or request log — what the libraries cost on their own."""
    port = free_port()
    log = log_dir / "bare-proxy.log"
    proc = ManagedProcess("bare-proxy", [str(binary), "bare-proxy", "--listen", str(port), "--upstream", upstream_url], log)
    proc.start(lambda _: "bare-proxy listening" in log.read_text(errors="replace"), timeout=20)
    return proc, port


def serve_pid(t: Tollgate) -> int:
    return t.serve.proc.pid


# ---------------------------------------------------------------------------------------------------
# storms


def grant_of(t: Tollgate, user: str) -> dict:
    grants = t.grants(subject=user)
    if len(grants) != 1:
        raise RuntimeError(f"expected one grant of {user}, found {len(grants)}")
    return t.grant(grants[0]["id"])


def upstream_expiry(grant: dict) -> float:
    """The grant's upstream access-token expiry (epoch seconds), from `grant show --json`."""
    upstream = grant.get("upstream") or {}
    for key in ("accessExpiresAt", "access_expires_at"):
        value = upstream.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):  # Foundation's default: seconds since 2001-01-01
            return value + 978307200 if value < 1e9 else value
        from datetime import datetime
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    raise RuntimeError(f"no upstream access expiry in the grant: {json.dumps(grant)[:600]}")


def refresh_counts(upstream, user: str) -> tuple[int, int, list[dict]]:
    s = upstream.stats(user)
    return s["refresh_ok"], s["refresh_failed"], [e for e in s["token_requests"] if e["grant_type"] == "refresh_token"]


async def sleep_until(when: float) -> None:
    await asyncio.sleep(max(0.0, when - time.time()))


def http_request(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[str, int, bytes]:
    """(host, port, the bytes of one HTTP/1.1 request) for the raw storms."""
    u = urlsplit(url)
    lines = [f"{method} {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1", f"Host: {u.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return u.hostname, u.port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    fields = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if ":" in h)}
    if "content-length" in fields:
        body = await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        for _ in range(100_000):
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        body = await reader.read()
    return status, body.decode("utf-8", "replace")


async def raw_storm(url: str, method: str, headers: dict[str, str], body: bytes, n: int, fire_at: float,
                    timeout: float = 120) -> tuple[list[tuple[int, str, float]], int, float, float]:
    """`n` identical requests, each on its own connection, all written back to back at `fire_at`.

    The connections are opened first; the requests are then written in one tight loop (a few ms for
    hundreds), so they are all in flight together, which a client library sending one by one is not.
    Returns ([(status or 0, body or error, seconds from the first write to the answer)], connections
    that failed to open, the start time (epoch), seconds the writing took)."""
    host, port, raw = http_request(method, url, headers, body)
    opened = await asyncio.gather(*[asyncio.open_connection(host, port) for _ in range(n)], return_exceptions=True)
    conns = [c for c in opened if not isinstance(c, BaseException)]
    failed_open = n - len(conns)
    await sleep_until(fire_at)
    t0 = time.time()
    for _, writer in conns:
        writer.write(raw)
    write_s = time.time() - t0

    async def answer(reader, writer):
        try:
            status, text = await asyncio.wait_for(read_response(reader), timeout)
            return status, text, time.time() - t0
        except Exception as e:  # noqa: BLE001 - every failure counts
            return 0, f"{type(e).__name__}: {e}", time.time() - t0
        finally:
            writer.close()

    results = await asyncio.gather(*[answer(r, w) for r, w in conns])
    results += [(0, "could not connect", 0.0)] * failed_open
    return results, failed_open, t0, write_s


DIGEST = re.compile(r'\\"token\\": \\"([0-9a-f]+)\\"')


async def call_tool(http: httpx2.AsyncClient, url: str, token: str, tool: str) -> tuple[int, str, str | None]:
    """One self-contained tools/call; (status, body, the backend's token digest if the reply names one)."""
    headers, body = tools_call(tool)
    headers["Authorization"] = f"Bearer {token}"
    r = await http.post(url, headers=headers, content=json.dumps(body))
    m = DIGEST.search(r.text)
    return r.status_code, r.text, m.group(1) if m else None


def good_reply(status: int, text: str, tool: str, user: str) -> bool:
    flat = text.replace(" ", "")
    if status != 200 or '"result"' not in text or '"isError":true' in flat:
        return False
    if tool == "whoami":
        return f'\\"sub\\":\\"{user}\\"' in flat
    return '\\"proxy_token\\":false' in flat  # bearer_digest: the upstream token, never the proxy's


async def gateway_storm(t: Tollgate, upstream, user: str, token: str, tool: str, n: int, expired_at: float) -> dict:
    """`n` concurrent `tool` calls on one grant whose upstream access token expired at `expired_at`."""
    log_mark = len(t.serve.log_text())
    headers, body = tools_call(tool)
    headers["Authorization"] = f"Bearer {token}"
    ok0, failed0, _ = refresh_counts(upstream, user)
    results, failed_open, t0, write_s = await raw_storm(t.mcp_url, "POST", headers, json.dumps(body).encode(), n,
                                                        expired_at + 0.3)
    ok1, failed1, events = refresh_counts(upstream, user)
    # The token every storm request carried is valid at the upstream: whoami with the same proxy token
    # (if the storm outlasted half the refreshed token's life, this call legitimately refreshes again).
    async with httpx2.AsyncClient(timeout=60) as http:
        status, text, after_digest = await call_tool(http, t.mcp_url, token, "whoami")
    valid_after = good_reply(status, text, "whoami", user)
    after_refreshed = sum(refresh_counts(upstream, user)[:2]) > ok1 + failed1
    storm_events = [e for e in events if e["at"] >= t0 - 0.01]
    refresh_done = storm_events[0]["at"] - t0 if storm_events else None
    good = [good_reply(st, text, tool, user) for st, text, _ in results]
    failed = [f"{st} {text[:160]}" for (st, text, _), g in zip(results, good) if not g]
    digests = sorted({m.group(1) for _, text, _ in results for m in [DIGEST.search(text)] if m})
    causes: dict[str, int] = {}
    for line in t.serve.log_text()[log_mark:].splitlines():
        m = re.search(r"error=(\S+).*gateway: backend unreachable", line)
        if m:
            causes[m.group(1)] = causes.get(m.group(1), 0) + 1
    return {
        "n": n, "tool": tool, "warm_failed": failed_open, "write_s": write_s,
        "good": sum(good), "failed": failed, "failed_kinds": sorted({f.split(" ")[0] for f in failed}),
        "gateway_failed": sum(1 for st, _, _ in results if st != 200),
        "tool_failed": sum(1 for (st, _, _), g in zip(results, good) if st == 200 and not g),
        "after_refreshed": after_refreshed,
        "refresh_ok": ok1 - ok0, "refresh_failed": failed1 - failed0,
        "last_done": max(d for _, _, d in results), "refresh_answered": refresh_done,
        "answered_before_refresh": sum(1 for _, _, d in results if refresh_done is not None and d < refresh_done),
        "digests": digests, "after_digest": after_digest, "valid_after": valid_after,
        "late_s": t0 - expired_at, "gateway_errors": causes,
    }


async def refresh_grant_storm(t: Tollgate, upstream, user: str, n: int, expired_at: float) -> dict:
    """`n` concurrent `refresh_token` grants with the same proxy refresh token, upstream token expired."""
    stored = json.loads(t.storm_storage[user].read_text())
    client, tokens = stored["client_info"], stored["tokens"]
    method = client.get("token_endpoint_auth_method") or "client_secret_post"
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    if method == "client_secret_basic":
        pair = f"{quote(client['client_id'], safe='')}:{quote(client['client_secret'], safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif method == "client_secret_post":
        form.update(client_id=client["client_id"], client_secret=client["client_secret"])
    else:
        form["client_id"] = client["client_id"]
    token_url = f"{t.base_url}/oauth/{t.slug}/token"
    body = "&".join(f"{k}={quote(v, safe='')}" for k, v in form.items())
    ok0, failed0, _ = refresh_counts(upstream, user)
    raw, failed_open, t0, write_s = await raw_storm(token_url, "POST", headers, body.encode(), n, expired_at + 0.3)
    ok1, failed1, _ = refresh_counts(upstream, user)
    results = []
    for status, text, done in raw:
        try:
            data = json.loads(text) if status else {"error": text}
        except ValueError:
            data = {"error": text[:200]}
        results.append((status, data, done))
    pairs = {(d.get("access_token"), d.get("refresh_token")) for s, d, _ in results if s == 200}
    # The pair they got works: one whoami through the gateway with the new access token.
    works = None
    if len(pairs) == 1:
        async with httpx2.AsyncClient(timeout=60) as http:
            status, text, _ = await call_tool(http, t.mcp_url, next(iter(pairs))[0], "whoami")
        works = good_reply(status, text, "whoami", user)
    return {
        "n": n, "auth_method": method, "ok": sum(1 for s, _, _ in results if s == 200),
        "failed": [f"{s} {json.dumps(d)[:200]}" for s, d, _ in results if s != 200],
        "pairs": len(pairs), "new": all(p[1] != tokens["refresh_token"] for p in pairs),
        "refresh_ok": ok1 - ok0, "refresh_failed": failed1 - failed0,
        "last_done": max(d for _, _, d in results), "works": works, "late_s": t0 - expired_at, "write_s": write_s,
        "expires_in": sorted({d.get("expires_in") for s, d, _ in results if s == 200}),
    }


# ---------------------------------------------------------------------------------------------------


def tools_call_status(url: str, token: str) -> int:
    """The status of one tools/call `echo` with `token`."""
    import http.client
    u = urlsplit(url)
    connection = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        connection.request("POST", u.path, body=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                            "params": {"name": "echo", "arguments": {}}}).encode(),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                    "Accept": "application/json, text/event-stream"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def revocation_under_load(t: Tollgate, url: str, load_token: str, victim_token: str, opts) -> tuple[int, int]:
    """No cache lets a revoked token through: while wrk loads the gateway with another grant's token, the victim's
    grant is revoked through the CLI; every request that starts after the revoke returned must be refused.
    Returns (requests let through after the revoke, the victim's status before it)."""
    import threading
    load = threading.Thread(target=lambda: run_wrk(url, load_token, seconds=4, threads=opts.threads,
                                                   connections=opts.connections), daemon=True)
    load.start()
    time.sleep(1)
    before = tools_call_status(url, victim_token)
    victim = next(g for g in t.cli_json("grant", "list", "--server", "static") if g.get("subject") == "bench-pg-victim")
    t.cli("grant", "revoke", str(victim["id"]))
    after = [tools_call_status(url, victim_token) for _ in range(50)]
    load.join(15)
    return sum(1 for status in after if status != 401), before


def main() -> int:
    parser = argparse.ArgumentParser(description="Tollgate gateway benchmark (see the module docstring).")
    parser.add_argument("--tollgate-bin", default=str(REPO / ".build-release/release/tollgate"))
    parser.add_argument("--benchmarks-bin", help="TollgateBenchmarks (for its bare-proxy); default: beside --tollgate-bin")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of wrk warm-up per target")
    parser.add_argument("--probe", type=float, default=5, help="seconds per single-connection latency run")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per target (order reversed every other round)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--storm", type=int, default=500, help="concurrent gateway requests in the refresh storm")
    parser.add_argument("--grants", type=int, default=50, help="concurrent refresh_token grants")
    parser.add_argument("--short-ttl", type=int, default=40, help="upstream access-token lifetime for the storms")
    parser.add_argument("--storm-gap", type=float, default=6, help="seconds between the storms' upstream expiries")
    parser.add_argument("--workdir", help="keep databases and logs here (default: a new temporary directory)")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: throughput,fastmcp,static,breakdown,latency,storms")
    opts = parser.parse_args()
    skip = set(filter(None, opts.skip.split(",")))

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    workdir = Path(opts.workdir) if opts.workdir else Path(tempfile.mkdtemp(prefix="tollgate-gw-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)

    # A private copy of the binary: another engineer's rebuild cannot swap it in the middle of the run.
    source_bin = Path(opts.tollgate_bin)
    binary = workdir / "bin" / "tollgate"
    binary.parent.mkdir(exist_ok=True)
    shutil.copy2(source_bin.resolve(), binary)
    bench_bin = Path(opts.benchmarks_bin) if opts.benchmarks_bin else source_bin.parent / "TollgateBenchmarks"
    bare_binary = workdir / "bin" / "TollgateBenchmarks"
    shutil.copy2(bench_bin.resolve(), bare_binary)
    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(source_bin.stat().st_mtime))
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0:1]
    nginx_version = subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], capture_output=True, text=True).stderr.strip()
    load = os.getloadavg()

    say("Tollgate gateway benchmark: one run, loopback only; every figure below comes from this run.")
    say(f"  machine: {os.cpu_count()} cores shared by wrk, Tollgate, the peers and anything else running "
        f"(load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}); compare only figures of this run.")
    say(f"  tollgate: {source_bin} (built {built}; tree {git or '?'}), run from a private copy")
    say(f"  wrk: {(wrk_version or ['?'])[0]}; -t{opts.threads} -c{opts.connections}, {opts.duration:g} s per run after a "
        f"{opts.warmup:g} s warm-up each, {opts.rounds} round(s), order reversed every other round; every reply body checked;"
        f" tables show medians over the rounds")
    say(f"  {nginx_version}; workdir {workdir}")
    say()

    pg_database = None  # a PostgreSQL database of this run, dropped at the end
    try:
        # -- peers -----------------------------------------------------------------------------------
        t_setup = time.time()
        long_up = start_upstream(workdir / "upstream-long", logs, access_ttl=3600, extra_slugs=("static",),
                                 log_name="upstream-long.log")
        short_up = None
        if "storms" not in skip:
            short_up = start_upstream(workdir / "upstream-short", logs, access_ttl=opts.short_ttl,
                                      log_name="upstream-short.log")
        (logs / "backend").mkdir(exist_ok=True)
        backend = start_backend(long_up.userinfo, logs / "backend", log_level="warning")
        nginx = nginx_port = None
        bare = bare_port = None
        if "static" not in skip:
            nginx, nginx_port = start_nginx(workdir, logs)
        nginx_url = f"http://127.0.0.1:{nginx_port}/mcp"
        if nginx:
            bare, bare_port = start_bare_proxy(bare_binary, nginx_url, logs)

        # Tollgate: one database, servers `files` (mcp backend) and `static` (nginx), served twice.
        tg = Tollgate(str(binary), workdir / "tollgate", logs)
        (workdir / "tollgate").mkdir(exist_ok=True)
        tg.configure(backend.mcp_url, long_up, access_ttl=3600)
        if nginx:
            tg.add_server("static", nginx_url, long_up, access_ttl=3600)
        tg.start(log_name="serve-info.log")
        tg_pool = Tollgate(str(binary), workdir / "tollgate", logs)
        tg_pool.env["TOLLGATE_CONCURRENCY_POOL"] = "1"
        tg_pool.start(log_name="serve-pool.log")
        # The same serve without its access log (`--access-log off`): what one log line per request costs.
        tg_quiet = None
        if nginx:
            tg_quiet = Tollgate(str(binary), workdir / "tollgate", logs)
            tg_quiet.start(extra_args=("--access-log", "off"), log_name="serve-quiet.log")
        # The same Tollgate on PostgreSQL (when the tests' server is given): its gateway against SQLite's.
        tg_pg = None
        if nginx and os.environ.get(POSTGRES_URL_VARIABLE):
            pg_database = FreshDatabase()
            tg_pg = Tollgate(str(binary), workdir / "tollgate-pg", logs, database=pg_database.url)
            (workdir / "tollgate-pg").mkdir(exist_ok=True)
            tg_pg.configure(backend.mcp_url, long_up, access_ttl=3600)
            tg_pg.add_server("static", nginx_url, long_up, access_ttl=3600)
            tg_pg.start(log_name="serve-postgres.log")

        fastmcp = fm_port = None
        if "fastmcp" not in skip:
            fastmcp, fm_port = start_fastmcp(backend.mcp_url, long_up.issuer, logs)

        # Proxy tokens through the real OAuth flow (official mcp client, bench/get_token.py).
        tok_files = asyncio.run(authorize(tg.mcp_url, "bench-tollgate", workdir / "client-files.json")).access_token
        tok_static = None
        if nginx:
            tok_static = asyncio.run(authorize(f"{tg.base_url}/mcp/static", "bench-static", workdir / "client-static.json",
                                               raw_tool="echo")).access_token
        tok_pg = tok_pg_victim = None
        if tg_pg:
            tok_pg = asyncio.run(authorize(f"{tg_pg.base_url}/mcp/static", "bench-pg", workdir / "client-pg.json",
                                           raw_tool="echo")).access_token
            tok_pg_victim = asyncio.run(authorize(f"{tg_pg.base_url}/mcp/static", "bench-pg-victim",
                                                  workdir / "client-pg-victim.json", raw_tool="echo")).access_token
        tok_fastmcp = None
        if fastmcp:
            tok_fastmcp = asyncio.run(authorize(f"http://127.0.0.1:{fm_port}/mcp/files", "bench-fastmcp",
                                                workdir / "client-fastmcp.json")).access_token
        say(f"setup: 2 upstreams, backend, nginx, FastMCP, 2 x tollgate serve, 3 OAuth flows in {time.time() - t_setup:.1f} s")

        cpu_backend = CpuGroup("backend", [backend.process.proc.pid])
        cpu_tg = CpuGroup("tollgate", [serve_pid(tg)])
        cpu_tgp = CpuGroup("tollgate", [serve_pid(tg_pool)])
        cpu_nginx = CpuGroup("nginx", [nginx.proc.pid], with_children=True) if nginx else None
        cpu_bare = CpuGroup("bare proxy", [bare.proc.pid]) if bare else None
        cpu_fm = CpuGroup("fastmcp", [fastmcp.proc.pid]) if fastmcp else None

        backend_direct = Target("backend direct", backend.mcp_url, None, [cpu_backend])
        tg_mcp = Target("Tollgate -> backend", tg.mcp_url, tok_files, [cpu_tg, cpu_backend])
        tg_mcp_p = Target("Tollgate -> backend (default executor)", tg_pool.mcp_url, tok_files, [cpu_tgp, cpu_backend])
        fm = Target("FastMCP OAuthProxy -> backend", f"http://127.0.0.1:{fm_port}/mcp/files", tok_fastmcp,
                    [cpu_fm, cpu_backend] if fastmcp else [])
        nginx_direct = Target("nginx direct", nginx_url, None, [cpu_nginx] if nginx else [])
        tg_static = Target("Tollgate -> nginx", f"{tg.base_url}/mcp/static", tok_static, [cpu_tg, cpu_nginx] if nginx else [])
        bare_static = Target("bare proxy (same stack, no auth) -> nginx", f"http://127.0.0.1:{bare_port}/mcp", None,
                             [cpu_bare, cpu_nginx] if nginx else [])
        tg_static_p = Target("Tollgate -> nginx (default executor)", f"{tg_pool.base_url}/mcp/static", tok_static,
                             [cpu_tgp, cpu_nginx] if nginx else [])
        tg_static_quiet = Target("Tollgate -> nginx (--access-log off)", f"{tg_quiet.base_url}/mcp/static", tok_static,
                                 [CpuGroup("tollgate", [serve_pid(tg_quiet)]), cpu_nginx]) if tg_quiet else None
        tg_static_pg = Target("Tollgate on PostgreSQL -> nginx", f"{tg_pg.base_url}/mcp/static", tok_pg,
                              [CpuGroup("tollgate", [serve_pid(tg_pg)]), cpu_nginx]) if tg_pg else None

        # Requests the upstream served during each run (its runserver log has one line per request). FastMCP
        # checks its upstream token by introspection (cached 60 s, bench/fastmcp_peer.py's default), each one a
        # PBKDF2 client-secret check at django-oauth-toolkit; Tollgate should make none with a fresh token.
        long_log = logs / "upstream-long.log"

        def upstream_requests() -> int:
            return len(re.findall(r'"(?:GET|POST) /', long_log.read_text(errors="replace")))

        for t in (tg_mcp, tg_mcp_p, fm, tg_static, tg_static_p):
            t.counters = {"upstream requests": upstream_requests}
        fm_log = logs / "fastmcp.log"
        fm.counters["401s in its log"] = lambda: fm_log.read_text(errors="replace").count("Auth error returned")

        results_ok = True
        summary: list[str] = []

        # -- 1 + 2: MCP tools/call through Tollgate vs direct vs FastMCP ---------------------------------
        if "throughput" not in skip:
            group = [backend_direct, tg_mcp, tg_mcp_p] + ([fm] if fastmcp else [])
            measured_table("1+2. MCP tools/call `echo` (no upstream call) on the mcp 2.3.0 SDK backend", group,
                           ["backend", "tollgate", "fastmcp", "wrk"], opts)
            r1, r1s = ratio(backend_direct, tg_mcp)
            r1p, _ = ratio(backend_direct, tg_mcp_p)
            valid = backend_direct.all_ok and tg_mcp.all_ok
            summary.append(f"1. Tollgate/backend direct throughput  {r1:5.2f}x ({rounds_text(r1s, '.2f')}; "
                           f"default executor {r1p:.2f}x)   target >= 0.90x  {verdict(valid and r1 >= 0.9)}")
            summary.append(f"   p50 {backend_direct.mean('p50'):.2f} -> {tg_mcp.mean('p50'):.2f} ms, "
                           f"p99 {backend_direct.mean('p99'):.2f} -> {tg_mcp.mean('p99'):.2f} ms (direct -> through Tollgate)")
            results_ok &= valid
            if fastmcp:
                r2, r2s = ratio(fm, tg_mcp)
                valid2 = fm.all_ok and tg_mcp.all_ok
                summary.append(f"2. Tollgate/FastMCP OAuthProxy throughput {r2:5.1f}x ({rounds_text(r2s, '.1f')})   "
                               f"target >= 10x  {verdict(valid2 and r2 >= 10)}")
                summary.append(f"   (a free proxy would reach backend direct/FastMCP = {ratio(fm, backend_direct)[0]:.1f}x here)")
                summary.append(f"   p50 {fm.mean('p50'):.2f} vs {tg_mcp.mean('p50'):.2f} ms, "
                               f"p99 {fm.mean('p99'):.2f} vs {tg_mcp.mean('p99'):.2f} ms (FastMCP vs Tollgate)")
                runs = fm.warmups + fm.results
                summary.append(f"   upstream requests during the runs: FastMCP {sum(r.counts.get('upstream requests', 0) for r in runs)}"
                               f" (and {sum(r.counts.get('401s in its log', 0) for r in runs)} 401s in its log), Tollgate "
                               f"{sum(r.counts.get('upstream requests', 0) for r in tg_mcp.warmups + tg_mcp.results)}")
                results_ok &= valid2

        # -- 3: pure proxy overhead against nginx ------------------------------------------------------
        if nginx:
            group = [nginx_direct, bare_static, tg_static, tg_static_quiet, tg_static_p] + ([tg_static_pg] if tg_static_pg else [])
            measured_table("3. The same tools/call against a static nginx reply (pure proxy overhead)", group,
                           ["nginx", "bare proxy", "tollgate", "wrk"], opts)
            r3, r3s = ratio(nginx_direct, tg_static)
            rbare, rbares = ratio(nginx_direct, bare_static)
            rown, rowns = ratio(bare_static, tg_static)
            r3p, _ = ratio(nginx_direct, tg_static_p)
            added99, _ = delta(nginx_direct, tg_static, "p99")
            valid = nginx_direct.all_ok and tg_static.all_ok
            summary.append(f"3. Tollgate/nginx direct throughput     {r3:5.3f}x ({rounds_text(r3s, '.3f')}; "
                           f"default executor {r3p:.3f}x)   target >= 0.50x  {verdict(valid and r3 >= 0.5)}")
            summary.append(f"   loaded ({opts.connections} connections): p99 {nginx_direct.mean('p99'):.2f} -> "
                           f"{tg_static.mean('p99'):.2f} ms, added {added99:+.2f} ms (queueing included)")
            summary.append(f"   the same stack with no token check (bare proxy: Hummingbird + GatewayForwarder/AsyncHTTPClient): "
                           f"bare/nginx {rbare:.3f}x ({rounds_text(rbares, '.3f')}) = the libraries' ceiling here; "
                           f"Tollgate/bare {rown:.2f}x ({rounds_text(rowns, '.2f')}) = the cost of Tollgate's own work")
            results_ok &= valid and bare_static.all_ok
            rlog, rlogs = ratio(tg_static_quiet, tg_static)
            summary.append(f"   access log on/off throughput           {rlog:5.3f}x ({rounds_text(rlogs, '.3f')}); "
                           f"p50 {tg_static_quiet.mean('p50'):.2f} -> {tg_static.mean('p50'):.2f} ms, "
                           f"p99 {tg_static_quiet.mean('p99'):.2f} -> {tg_static.mean('p99'):.2f} ms (off -> on)")
            if tg_static_pg:
                rpg, rpgs = ratio(tg_static, tg_static_pg)
                validpg = tg_static_pg.all_ok
                summary.append(f"   PostgreSQL/SQLite gateway throughput    {rpg:5.3f}x ({rounds_text(rpgs, '.3f')})   "
                               f"target >= 0.80x  {verdict(validpg and rpg >= 0.8)}")
                summary.append(f"   p50 {tg_static.mean('p50'):.2f} -> {tg_static_pg.mean('p50'):.2f} ms, "
                               f"p99 {tg_static.mean('p99'):.2f} -> {tg_static_pg.mean('p99'):.2f} ms (SQLite -> PostgreSQL)")
                let_through, before = revocation_under_load(tg_pg, tg_static_pg.url, tok_pg, tok_pg_victim, opts)
                summary.append(f"   revocation under load (PostgreSQL): the victim's token answered {before} before; of 50 "
                               f"requests after the revoke returned, {let_through} let through   target 0  "
                               f"{verdict(let_through == 0 and before == 200)}")
                results_ok &= validpg and let_through == 0 and before == 200

        # -- where Tollgate's CPU goes ------------------------------------------------------------------
        if nginx and "breakdown" not in skip:
            say()
            say(f"Where Tollgate's CPU goes: requests that stop at successive steps of the gateway path, "
                f"same serve (log info), -t{opts.threads} -c{opts.connections}, {opts.probe:g} s each")
            probes = [
                ("GET /nothing (router 404)", "/nothing", dict(MCP_METHOD="GET", MCP_STATUS="404")),
                ("GET /healthz (+1 GRDB pool read)", "/healthz", dict(MCP_METHOD="GET", MCP_STATUS="200", MCP_EXPECT="ok")),
                ("GET /mcp/static, no token (401, no body)", "/mcp/static",
                 dict(MCP_METHOD="GET", MCP_STATUS="401", MCP_EXPECT="invalid_token")),
                ("POST /mcp/static, no token (401)", "/mcp/static",
                 dict(MCP_METHOD="POST", MCP_STATUS="401", MCP_EXPECT="invalid_token")),
                ("POST /mcp/static, unknown token (401)", "/mcp/static",
                 dict(MCP_METHOD="POST", MCP_STATUS="401", MCP_EXPECT="invalid_token",
                      MCP_TOKEN="tg_at_" + "x" * 43)),
                ("POST /mcp/static, valid token (forwarded)", "/mcp/static",
                 dict(MCP_METHOD="POST", MCP_STATUS="200", MCP_EXPECT="pong", MCP_TOKEN=tok_static)),
            ]
            say(f"  {'request':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>5} {'tollgate CPU µs/req':>20}"
                f" {'NIO / pool / other':>19} {'user / sys':>11} {'switches/req':>13}")
            for label, path, env in probes:
                env = {"MCP_TOOL": "echo", **env}
                run_wrk(f"{tg.base_url}{path}", None, env=env, seconds=min(2, opts.warmup),
                        threads=opts.threads, connections=opts.connections, allow_non2xx=True)
                r = run_wrk(f"{tg.base_url}{path}", None, env=env, seconds=opts.probe,
                            threads=opts.threads, connections=opts.connections, label=label, cpu_groups=[cpu_tg],
                            allow_non2xx=True, split_pid=serve_pid(tg))
                us = r.cpu_us_per_request("tollgate") or 0.0
                split = r.threads
                parts = " / ".join(f"{split.get(k, 0.0) / max(1, r.good) * 1e6:.0f}" for k in
                                   ("NIO event-loop threads", "dispatch/Swift-concurrency pool", "other threads"))
                n = max(1, r.good)
                us_sys = f"{split.get('user', 0.0) / n * 1e6:.0f} / {split.get('sys', 0.0) / n * 1e6:.0f}"
                say(f"  {label:<44} {r.rps:9.1f} {r.p50:8.2f} {r.p99:8.2f} {r.bad + (1 if r.errors else 0):5d} {us:20.0f}"
                    f" {parts:>19} {us_sys:>11} {split.get('switches', 0.0) / n:13.2f}")
                if r.first_bad or r.errors:
                    say(f"     {r.errors} {r.first_bad}")

        # -- latency without queueing -------------------------------------------------------------------
        if "latency" not in skip:
            say()
            say(f"Latency with one connection (no queueing), {opts.probe:g} s each")
            probes = []
            pairs = []
            if "throughput" not in skip:
                a = Target("backend direct", backend.mcp_url, None, [cpu_backend])
                b = Target("Tollgate -> backend", tg.mcp_url, tok_files, [cpu_tg, cpu_backend])
                probes += [a, b]
                pairs.append(("backend", a, b))
            if nginx:
                a = Target("nginx direct", nginx_url, None, [cpu_nginx])
                b = Target("Tollgate -> nginx", f"{tg.base_url}/mcp/static", tok_static, [cpu_tg, cpu_nginx])
                probes += [a, b]
                pairs.append(("nginx", a, b))
            latency_probe(probes, opts, tool="echo", expect="pong")
            say()
            table(probes, ["backend", "nginx", "tollgate", "wrk"])
            for name, a, b in pairs:
                d50, _ = delta(a, b, "p50")
                d99, d99s = delta(a, b, "p99")
                valid = a.all_ok and b.all_ok
                line = f"   1 connection, {name}: added p50 {d50:+.3f} ms, added p99 {d99:+.3f} ms"
                if name == "nginx":
                    line = f"3. Tollgate added p99 latency vs nginx direct (1 connection) {d99:+.3f} ms " \
                           f"({rounds_text(d99s, '+.3f')})   target <= 1 ms  {verdict(valid and d99 <= 1.0)}   (p50 {d50:+.3f} ms)"
                    results_ok &= valid
                summary.append(line)

        # -- 4 + 5: refresh storms ------------------------------------------------------------------------
        if short_up is not None:
            say()
            say(f"4+5. Refresh storms: tollgate serve over its own database, upstream access tokens live {opts.short_ttl} s")
            (logs / "storm").mkdir(exist_ok=True)
            backend_short = start_backend(short_up.userinfo, logs / "storm", log_level="warning")
            ts = Tollgate(str(binary), workdir / "tollgate-storm", logs / "storm")
            (workdir / "tollgate-storm").mkdir(exist_ok=True)
            ts.configure(backend_short.mcp_url, short_up, access_ttl=3600)
            ts.start()
            ts.storm_tokens, ts.storm_storage = {}, {}
            # In the order of the storms; each grant is authorized so that its upstream token expires about
            # when the storm before it is over (a storm takes a few seconds here).
            async def digest_now(t: Tollgate, token: str) -> str | None:
                async with httpx2.AsyncClient(timeout=30) as http:
                    return (await call_tool(http, t.mcp_url, token, "bearer_digest"))[2]

            users = {"gateway": "storm-gateway", "grant": "storm-refresh-grant", "whoami": "storm-gateway-whoami"}
            expiry, old_digest = {}, {}
            for key, user in users.items():
                if expiry:
                    time.sleep(max(0.0, max(expiry.values()) + opts.storm_gap - opts.short_ttl - time.time()))
                ts.storm_storage[user] = workdir / f"client-{user}.json"
                ts.storm_tokens[user] = asyncio.run(authorize(ts.mcp_url, user, ts.storm_storage[user]))
                # The upstream token it has now, while fresh (a call later on could refresh it).
                old_digest[key] = asyncio.run(digest_now(ts, ts.storm_tokens[user].access_token))
                expiry[key] = upstream_expiry(grant_of(ts, user))
            say(f"  {len(users)} grants authorized; waiting for their upstream tokens to expire (in "
                + ", ".join(f"{expiry[k] - time.time():.1f}" for k in users) + " s)")

            def storm_report(number: str, s4: dict, key: str) -> bool:
                refreshes = s4["refresh_ok"] + s4["refresh_failed"]
                what = {"bearer_digest": "bearer_digest calls (the backend names the token it got; no upstream call)",
                        "whoami": "whoami calls (the backend checks every token at the upstream's userinfo)"}[s4["tool"]]
                say(f"  {number}. {s4['n']} concurrent {what}, {s4['late_s']:.2f} s after the grant's upstream token "
                    f"expired; one connection each, opened beforehand ({s4['warm_failed']} failed to open)")
                say(f"     all {s4['n']} requests written within {s4['write_s'] * 1000:.1f} ms; upstream refresh answered at "
                    + (f"+{s4['refresh_answered'] * 1000:.0f} ms ({s4['answered_before_refresh']} replies before it)"
                       if s4["refresh_answered"] is not None else "- (none)")
                    + f"; last reply at +{s4['last_done'] * 1000:.0f} ms")
                fresh = (len(s4["digests"]) == 1 and s4["digests"][0] != old_digest[key]
                         and (s4["digests"][0] == s4["after_digest"] or s4["after_refreshed"]))
                say(f"     good replies {s4['good']}, failed {len(s4['failed'])}"
                    + (f" (HTTP {', '.join(s4['failed_kinds'])}: {s4['gateway_failed']} answered by Tollgate with an error, "
                       f"{s4['tool_failed']} tool errors from the backend)" if s4["failed"] else "")
                    + f"; upstream refreshes {refreshes} ({s4['refresh_ok']} ok, {s4['refresh_failed']} failed)")
                say(f"     upstream tokens the backend received: {len(s4['digests'])} distinct {s4['digests'][:3]}, old one "
                    f"{old_digest[key]}; whoami with the same proxy token afterwards: "
                    f"{'valid' if s4['valid_after'] else 'INVALID'} ({s4['after_digest']}"
                    + ("; it needed a new refresh: the storm outlasted half the token's life" if s4["after_refreshed"] else "")
                    + ")")
                if s4["gateway_errors"]:
                    say(f"     tollgate serve log, 'gateway: backend unreachable': {s4['gateway_errors']}")
                for f in s4["failed"][:3]:
                    say(f"     failed: {f}")
                return refreshes == 1 and not s4["failed"] and s4["good"] == s4["n"] and fresh and s4["valid_after"]

            s4 = asyncio.run(gateway_storm(ts, short_up, users["gateway"], ts.storm_tokens[users["gateway"]].access_token,
                                           "bearer_digest", opts.storm, expiry["gateway"]))
            ok4 = storm_report("4", s4, "gateway")
            summary.append(f"4. Refresh storm: {s4['n']} requests -> {s4['refresh_ok'] + s4['refresh_failed']} upstream "
                           f"refresh(es), {len(s4['failed'])} failed   target 1 and 0  {verdict(ok4)}")
            s5 = asyncio.run(refresh_grant_storm(ts, short_up, users["grant"], opts.grants, expiry["grant"]))
            refreshes5 = s5["refresh_ok"] + s5["refresh_failed"]
            say(f"  5. {s5['n']} concurrent refresh_token grants (client auth {s5['auth_method']}) with one proxy refresh "
                f"token, {s5['late_s']:.2f} s after the upstream token expired; written within {s5['write_s'] * 1000:.1f} ms, "
                f"one connection each")
            say(f"     200 answers {s5['ok']}, failed {len(s5['failed'])}; distinct token pairs {s5['pairs']} "
                f"(new: {s5['new']}; expires_in {s5['expires_in']}); all answered within {s5['last_done'] * 1000:.0f} ms "
                f"(grace window 10 s)")
            say(f"     upstream refreshes {refreshes5} ({s5['refresh_ok']} ok, {s5['refresh_failed']} failed); "
                f"the new access token works on the gateway (whoami): {s5['works']}")
            for f in s5["failed"][:5]:
                say(f"     failed: {f}")
            ok5 = refreshes5 == 1 and s5["ok"] == s5["n"] and s5["pairs"] == 1 and s5["new"] and bool(s5["works"])
            summary.append(f"5. {s5['n']} concurrent refresh_token grants -> {refreshes5} upstream refresh(es), "
                           f"{s5['pairs']} distinct pair(s), {len(s5['failed'])} failed   target 1, 1, 0  {verdict(ok5)}")
            s4w = asyncio.run(gateway_storm(ts, short_up, users["whoami"], ts.storm_tokens[users["whoami"]].access_token,
                                            "whoami", opts.storm, expiry["whoami"]))
            ok4w = storm_report("4b", s4w, "whoami")
            summary.insert(len(summary) - 1, f"   4b. with whoami (slow backend): {s4w['n']} requests -> "
                           f"{s4w['refresh_ok'] + s4w['refresh_failed']} upstream refresh(es), {len(s4w['failed'])} failed "
                           f"({s4w['gateway_failed']} by Tollgate, {s4w['tool_failed']} tool errors), last reply after "
                           f"{s4w['last_done']:.1f} s  {verdict(ok4w)}")

        say()
        say(f"Summary (ratios of medians over the {opts.rounds} rounds of this run)")
        for line in summary:
            say(line)
        if not results_ok:
            say("NOTE: some measurement had bad replies or socket errors; its figures are void (see above).")
        end_load = os.getloadavg()
        say(f"load average at the end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}; logs: {logs}")
        return 0
    finally:
        # Every process this run started (fixtures.procs records each one), newest first.
        for p in reversed(procs.STARTED):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001
                say(f"stopping {p.name}: {e}")
        binary.unlink(missing_ok=True)  # the private copy (~100 MB); the logs and SQLite databases stay
        if pg_database is not None:
            pg_database.drop()


if __name__ == "__main__":
    sys.exit(main())

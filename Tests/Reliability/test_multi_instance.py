"""Several `tollgate serve` instances on one PostgreSQL database, as behind a load balancer: the same
--public-url and master key, different ports. Real processes; PostgreSQL from TOLLGATE_TEST_POSTGRES_URL
(the test fails under CI without it, and is skipped elsewhere, saying so)."""
from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time

from harness.installation import SLUG
from harness.report import publish, table
from harness.traffic import GATEWAY

STORM = 200


def gateway(port: int, access_token: str, timeout: float = 30) -> tuple[int | None, str]:
    """One MCP request through the gateway of the instance on `port`: (status, error or "")."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", f"/mcp/{SLUG}", body=body, headers={
            "Authorization": f"Bearer {access_token}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream"})
        response = connection.getresponse()
        response.read()
        return response.status, ""
    except (OSError, http.client.HTTPException) as e:
        return None, type(e).__name__
    finally:
        connection.close()


def urls(w) -> list[str]:
    return [f"http://127.0.0.1:{port}" for port in w.ports]


def test_a_flow_started_on_one_instance_is_finished_on_the_other(world):
    w = world(users=0, access_ttl=3600, with_proxy=False, serves=2, backend_store="postgres")
    a, b = urls(w)
    pair = w.client.authorize("alice", start_on=a, finish_on=b)   # register + authorize on A; consent, callback, token on B
    for port in w.ports:
        assert gateway(port, pair.access) == (200, ""), f"the grant works on :{port}"
    # The refresh grant works on either instance, rotation included.
    for base in (a, b, a):
        status, _, answer = w.client.refresh(pair.refresh, base)
        assert status == 200, answer
        pair = type(pair)(answer["access_token"], answer["refresh_token"])
        for port in w.ports:
            assert gateway(port, pair.access)[0] == 200


def test_a_refresh_storm_over_two_instances_makes_one_upstream_call(world):
    # The grant's first upstream token lives 2 s; the refreshed one an hour, so only the expiry refreshes.
    w = world(users=1, access_ttl=2, with_proxy=False, serves=2, backend_store="postgres")
    w.upstream.configure(accessTTL=3600)
    time.sleep(3)   # the upstream access token has expired
    session = w.sessions[0]
    before = w.upstream.stats()["refreshCalls"]
    results: list[tuple[int | None, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(STORM)

    def one(i: int) -> None:
        start.wait()
        result = gateway(w.ports[i % 2], session.pair.access)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(STORM)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    seconds = time.monotonic() - began
    calls = w.upstream.stats()["refreshCalls"] - before
    failed = [r for r in results if r[0] != 200]
    publish(table("refresh storm over two instances (PostgreSQL)",
                  ["requests", "instances", "upstream refresh calls", "failed", "seconds"],
                  [[len(results), 2, calls, len(failed), f"{seconds:.2f}"]]))
    assert len(results) == STORM
    assert failed == [], f"{len(failed)} failed: {failed[:5]}"
    assert calls == 1, f"{calls} upstream refresh calls for one expired grant"


def test_a_cli_revoke_is_seen_by_the_very_next_request_on_both_instances(world):
    w = world(users=1, access_ttl=3600, with_proxy=False, serves=2, backend_store="postgres")
    session = w.sessions[0]
    for port in w.ports:
        assert gateway(port, session.pair.access)[0] == 200
    w.installation.cli("grant", "revoke", str(session.grant_id))
    for port in w.ports:
        assert gateway(port, session.pair.access)[0] == 401, f"a revoked grant still works on :{port}"


def test_keys_rotate_while_both_instances_serve_traffic_loses_nothing(world):
    w = world(users=6, access_ttl=3600, with_proxy=False, serves=2, backend_store="postgres")
    traffic = w.traffic().start()
    try:
        time.sleep(2)
        rotated = w.installation.cli("keys", "rotate")
        time.sleep(2)
        rotated_again = w.installation.cli("keys", "rotate")
        time.sleep(2)
    finally:
        traffic.stop()
    outcomes = [o for o in traffic.outcomes if o.kind == GATEWAY]
    bad = [o for o in outcomes if o.status != 200]
    publish(table("keys rotate under traffic on two instances (PostgreSQL)",
                  ["gateway requests", "failed", "rotations"],
                  [[len(outcomes), len(bad), 2]]))
    assert "re-sealed" in rotated and "re-sealed" in rotated_again
    assert outcomes, "no traffic ran"
    assert bad == [], f"{len(bad)} failed: {[(o.port, o.status, o.error) for o in bad[:5]]}"
    # Every grant still validates, on both instances, and its upstream token still opens (the forwarded one is
    # accepted upstream).
    for session in w.sessions:
        for port in w.ports:
            assert gateway(port, session.pair.access)[0] == 200, f"{session.name} on :{port}"
    problems = w.last_tokens_valid(traffic)
    assert all(p is None for p in problems.values()), problems


def test_each_instance_reads_the_others_writes_at_once(world):
    """A grant made through A is listed by the CLI and usable on B with no delay; the store is the only state."""
    w = world(users=0, access_ttl=3600, with_proxy=False, serves=2, backend_store="postgres")
    a, b = urls(w)
    pair = w.client.authorize("bob", start_on=a, finish_on=a)
    assert gateway(w.ports[1], pair.access)[0] == 200
    listed = {g["subject"] for g in w.installation.grants()}
    assert "bob" in listed
    result = subprocess.run([w.installation.binary, "server", "list", "--json", "--db", w.installation.db],
                            capture_output=True, text=True, env=w.installation.env, timeout=60)
    assert result.returncode == 0, result.stderr
    # The database is named without user or password wherever Tollgate prints it.
    for process in w.installation.serves.values():
        log = process.log_text()
        assert "PGPASSWORD" not in log and w.installation.env.get("PGPASSWORD", "\0") not in log

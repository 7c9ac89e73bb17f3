"""PostgreSQL itself goes away while `serve` carries traffic: a fault proxy between `serve` and the database
refuses (or black-holes) connections for `RELIABILITY_DATABASE_OUTAGE_SECONDS` (default 20), then heals.

During the outage every answer is a 200 or a clear 503 (gateway: with Retry-After; token endpoint:
`temporarily_unavailable`), never a 401, never a wait past the timeouts, and `serve` does not crash; afterwards
no grant changed state, every grant works again within its last Retry-After + a few seconds, and the upstream
token forwarded last is valid. (The CLI reaches the database directly, not through the proxy.)"""
from __future__ import annotations

import os
import time

import pytest

from fixtures.faultproxy import BLACKHOLE, PASS, REFUSE
from harness.checks import describe, last_retry_after, recovery_times, unacceptable
from harness.report import publish, table
from harness.traffic import GATEWAY, TOKEN, wall_clock

OUTAGE = float(os.environ.get("RELIABILITY_DATABASE_OUTAGE_SECONDS", "20"))
USERS = 12
UPSTREAM_ACCESS_TTL = 6
# A request may wait for the store's connect timeout (10 s) and a query's, never for the outage to end.
LONGEST_REQUEST = 12.0
# After the heal: a grant works again within the Retry-After it last held plus this.
RECOVERY_MARGIN = 5.0


@pytest.mark.parametrize("mode", [REFUSE, BLACKHOLE], ids=["refused", "black-holed"])
def test_postgres_going_away_answers_503_and_loses_nothing(world, mode):
    w = world(users=USERS, access_ttl=UPSTREAM_ACCESS_TTL, with_proxy=False, backend_store="postgres",
              with_database_proxy=True)
    proxy, serve = w.database_proxy, w.installation.serves[w.ports[0]]
    traffic = w.traffic().start()
    origin = time.monotonic()
    problems: list[str] = []
    names = [s.name for s in w.sessions]
    began = healed = recovered_at = origin
    try:
        time.sleep(UPSTREAM_ACCESS_TTL)  # ordinary traffic and refreshes first
        began = time.monotonic()
        proxy.set_mode(mode)
        time.sleep(OUTAGE)
        healed = time.monotonic()
        proxy.set_mode(PASS)
        deadline = healed + LONGEST_REQUEST + 30
        while time.monotonic() < deadline:
            if all(v is not None for v in recovery_times(traffic.outcomes, healed, names).values()):
                break
            time.sleep(0.25)
        recovered_at = time.monotonic()
        time.sleep(2)  # some calm traffic after the recovery
    finally:
        traffic.stop()
        traffic.write_outcomes(w.installation.log_dir / "outcomes.csv",
                               {"database outage began": began, "database healed": healed})
    outcomes = list(traffic.outcomes)
    during = [o for o in outcomes if began <= o.start < healed]
    problems += [f"{describe(o, origin)}" for o in outcomes if unacceptable(o)]
    slow = [o for o in outcomes if o.latency > LONGEST_REQUEST]
    problems += [f"waited {o.latency:.1f} s (> {LONGEST_REQUEST:.0f} s): {describe(o, origin)}" for o in slow]
    if not serve.running:
        problems.append("serve is no longer running")
    if not any(o.status == 503 for o in during):
        problems.append("no 503 during the outage: the proxy did not cut the database off")

    recovery = recovery_times(outcomes, healed, names)
    for grant, seconds in recovery.items():
        allowed = last_retry_after(outcomes, grant, healed + (seconds or 0)) + RECOVERY_MARGIN
        if seconds is None or seconds > allowed:
            problems.append(f"{grant} worked again only after {seconds} s (allowed {allowed:.0f} s): " + "; ".join(
                f"{wall_clock(o.start)} {o.kind} {o.status} {o.error or ''} RA {o.retry_after} after {o.latency:.1f} s"
                for o in outcomes if o.grant == grant and healed - 5 <= o.start < recovered_at))
    states = w.grant_states()
    lost = [s.name for s in w.sessions if states[s.name]["state"] != "active"]
    problems += [f"grant of {g} is {states[g]['state']} afterwards" for g in lost]
    valid = w.last_tokens_valid(traffic)
    problems += [f"after the traffic, {g}: {why}" for g, why in valid.items() if why]

    longest_recovery = max((v for v in recovery.values() if v is not None), default=None)
    publish(table(f"PostgreSQL {'refusing' if mode == REFUSE else 'black-holed'} for {OUTAGE:.0f} s under serve, "
                  f"{USERS} grants, upstream access TTL {UPSTREAM_ACCESS_TTL} s",
                  ["mode", "requests during", "gateway", "503s", "token 503s", "401s", "bad answers",
                   "longest request s", "longest recovery s", "lost grants"],
                  [[mode, len(during), sum(o.kind == GATEWAY for o in during), sum(o.status == 503 for o in during),
                    sum(o.kind == TOKEN and o.status == 503 for o in during), sum(o.status == 401 for o in outcomes),
                    sum(1 for o in outcomes if unacceptable(o)), max((o.latency for o in outcomes), default=0.0),
                    longest_recovery, len(lost)]]))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])

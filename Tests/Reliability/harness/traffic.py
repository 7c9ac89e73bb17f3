"""Traffic: worker threads, each owning some grants, sending gateway requests in a loop and now and then a
`refresh_token` grant; a 503 makes the worker wait that grant's Retry-After. Every outcome is recorded."""
from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from .agent import TokenPair
from .installation import SLUG

REQUEST_TIMEOUT = 30.0
GATEWAY, TOKEN = "gateway", "token"


@dataclass(slots=True)
class Outcome:
    """One request and its answer; times are `time.monotonic()`; `status` None is a connection error."""
    start: float
    end: float
    grant: str
    kind: str
    port: int
    status: int | None
    retry_after: float | None = None
    error: str | None = None  # the OAuth `error` code, or the connection error

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class GrantSession:
    """A user's grant as its client holds it: the proxy token pair and when it may ask again."""
    name: str
    pair: TokenPair
    grant_id: int | None = None
    not_before: float = 0.0
    refresh_due: bool = False


class Traffic:
    """One thread per grant (a client does not wait behind another user's request), each request to the
    next port of `ports()`, a pause of `pause` seconds between a grant's requests, and every `refresh_every`
    seconds a `refresh_token` grant instead of a gateway request."""

    def __init__(self, sessions: list[GrantSession], ports: Callable[[], list[int]], client_id: str,
                 refresh_every: float = 6.0, pause: float = 0.3):
        self.sessions = sessions
        self.ports = ports
        self.client_id = client_id
        self.refresh_every = refresh_every
        self.pause = pause
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(s, i), name=f"traffic-{s.name}", daemon=True)
                         for i, s in enumerate(sessions)]
        self._counter = itertools.count()

    def start(self) -> "Traffic":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(REQUEST_TIMEOUT + 5)

    def write_outcomes(self, path, marks: dict[str, float] | None = None) -> None:
        """Writes every outcome as a CSV line with UTC wall-clock times (and the test's `marks`, e.g. when
        an outage began), to read beside the processes' logs and the grants' refresh history."""
        with open(path, "w") as f:
            f.write("start_utc,end_utc,grant,kind,port,status,retry_after,error\n")
            for name, at in sorted((marks or {}).items(), key=lambda m: m[1]):
                f.write(f"{wall_clock(at)},{wall_clock(at)},-,mark,,,,{name}\n")
            for o in sorted(self.outcomes, key=lambda o: o.start):
                f.write(f"{wall_clock(o.start)},{wall_clock(o.end)},{o.grant},{o.kind},{o.port},"
                        f"{'' if o.status is None else o.status},{'' if o.retry_after is None else o.retry_after},"
                        f"{o.error or ''}\n")

    # workers

    def _work(self, session: GrantSession, index: int) -> None:
        port_cycle = itertools.count(index)
        # Spread the grants' refreshes over the period instead of sending them all at once.
        next_refresh = time.monotonic() + self.refresh_every * (1 + index / max(1, len(self.sessions)))
        while not self._stop.is_set():
            wait = session.not_before - time.monotonic()
            if wait > 0:
                self._stop.wait(min(wait, 0.5))
                continue
            if time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + self.refresh_every
                session.refresh_due = True
            ports = self.ports()
            port = ports[next(port_cycle) % len(ports)]
            if session.refresh_due:
                self._refresh(session, port)
            else:
                self._gateway(session, port)
            self._stop.wait(self.pause)

    def _send(self, session: GrantSession, kind: str, port: int, path: str, body: bytes,
              headers: dict[str, str]) -> tuple[Outcome, dict]:
        start = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            status, retry_after = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as e:
            outcome = Outcome(start, time.monotonic(), session.name, kind, port, None, error=type(e).__name__)
            self.outcomes.append(outcome)
            session.not_before = outcome.end + 0.2
            return outcome, {}
        finally:
            connection.close()
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {}
        outcome = Outcome(start, time.monotonic(), session.name, kind, port, status,
                          retry_after=_seconds(retry_after), error=parsed.get("error") if isinstance(parsed, dict) else None)
        self.outcomes.append(outcome)
        if status == 503:
            session.not_before = outcome.end + (outcome.retry_after if outcome.retry_after is not None else 1.0)
        elif status >= 400:
            session.not_before = outcome.end + 2.0  # a lost grant: keep asking, slowly
        return outcome, parsed if isinstance(parsed, dict) else {}

    def _gateway(self, session: GrantSession, port: int) -> Outcome:
        body = json.dumps({"jsonrpc": "2.0", "id": f"{session.name}-{next(self._counter)}",
                           "method": "tools/list", "params": {}}).encode()
        return self._send(session, GATEWAY, port, f"/mcp/{SLUG}", body, {
            "Authorization": f"Bearer {session.pair.access}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream"})[0]

    def _refresh(self, session: GrantSession, port: int) -> Outcome:
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": session.pair.refresh,
                                       "client_id": self.client_id}).encode()
        outcome, answer = self._send(session, TOKEN, port, f"/oauth/{SLUG}/token", body,
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        if outcome.status == 200 and "access_token" in answer:
            session.pair = TokenPair(answer["access_token"], answer.get("refresh_token", session.pair.refresh))
        # A refresh that got no answer or a 503 is tried again (after Retry-After), as clients do.
        session.refresh_due = outcome.status is None or outcome.status == 503
        return outcome

    # probing

    def probe(self, session: GrantSession, port: int) -> Outcome:
        """One gateway request from the test thread (recorded like the workers' ones)."""
        return self._gateway(session, port)


def wall_clock(monotonic: float) -> str:
    """A `time.monotonic()` instant as UTC wall-clock time (HH:MM:SS.mmm)."""
    return datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic), timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None

"""Judging recorded outcomes: which answers a surviving session may get, and how long grants took to recover."""
from __future__ import annotations

from collections.abc import Iterable

from .traffic import GATEWAY, TOKEN, Outcome

LONGEST_BACKOFF = 30  # seconds: the refresh backoff goes 1, 2, 4, 8, 16, then 30 at most


def unacceptable(outcome: Outcome) -> str | None:
    """Why `outcome` is not an answer a surviving session may get (gateway: 200 or 503 with Retry-After;
    token endpoint: 200 or 503 `temporarily_unavailable`), or None when it is one."""
    if outcome.status is None:
        return f"connection error ({outcome.error})"
    if outcome.status == 200:
        return None
    if outcome.status == 503:
        if outcome.kind == GATEWAY and outcome.retry_after is None:
            return "gateway 503 without Retry-After"
        if outcome.retry_after is not None and outcome.retry_after > LONGEST_BACKOFF:
            return f"{outcome.kind} 503 with Retry-After {outcome.retry_after:.0f} s, beyond the longest backoff"
        if outcome.kind == TOKEN and outcome.error != "temporarily_unavailable":
            return f"token endpoint 503 with error {outcome.error!r}"
        return None
    return f"{outcome.kind} {outcome.status} {outcome.error or ''}".strip()


def describe(outcome: Outcome, origin: float) -> str:
    return (f"t={outcome.start - origin:7.2f}s {outcome.grant} {outcome.kind} :{outcome.port} -> "
            f"{unacceptable(outcome)} (after {outcome.latency:.2f} s)")


def recovery_times(outcomes: Iterable[Outcome], since: float, grants: Iterable[str]) -> dict[str, float | None]:
    """Per grant: seconds from `since` to the answer of its first gateway 200 sent at or after `since`."""
    first: dict[str, float] = {}
    for o in outcomes:
        if o.kind == GATEWAY and o.status == 200 and o.start >= since:
            first[o.grant] = min(first.get(o.grant, o.end), o.end)
    return {g: (first[g] - since if g in first else None) for g in grants}


def last_retry_after(outcomes: Iterable[Outcome], grant: str, before: float) -> float:
    """The last Retry-After `grant` received by `before` (0 when none)."""
    last = 0.0
    for o in outcomes:
        if o.grant == grant and o.retry_after is not None and o.end <= before:
            last = o.retry_after
    return last

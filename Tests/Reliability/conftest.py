"""Fixtures of the reliability suite. Puts Tests/Interop on sys.path for its process helpers
(`fixtures.procs`); every test builds its own installation and tears every process down, also on failure.
Logs go to `$RELIABILITY_LOG_DIR/<test>` (default: a pytest temporary directory, shown on failure)."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "Interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import procs  # noqa: E402
from fixtures.session import binary_and_log_fixtures  # noqa: E402
from harness.world import build_world  # noqa: E402

tollgate_bin, log_root = binary_and_log_fixtures(REPO, "RELIABILITY_LOG_DIR", "reliability-logs")


@pytest.fixture
def world(tollgate_bin, tmp_path, log_root, request):
    """`world(users=..., access_ttl=..., with_proxy=..., serves=..., rotate=...)` builds the test's installation."""
    log_dir = log_root / request.node.name.replace("/", "_")
    request.node.reliability_log_dir = log_dir
    with contextlib.ExitStack() as stack:
        yield lambda **options: build_world(stack, tollgate_bin, tmp_path, log_dir, **options)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        log_dir = getattr(item, "reliability_log_dir", None)
        shown = set()
        for p in reversed(procs.STARTED):
            if p.log_path in shown or log_dir is None or log_dir not in p.log_path.parents:
                continue
            shown.add(p.log_path)
            report.sections.append((f"log of {p.name} ({p.log_path})", p.tail(40)))

"""Fixtures of the reliability suite. Puts Tests/Interop on sys.path for its process helpers
(`fixtures.procs`); every test builds its own installation and tears every process down, also on failure.
Logs go to `$RELIABILITY_LOG_DIR/<test>` (default: a pytest temporary directory, shown on failure)."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "Interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import procs  # noqa: E402
from harness.world import build_world  # noqa: E402


@pytest.fixture(scope="session")
def tollgate_bin() -> str:
    binary = Path(os.environ.get("TOLLGATE_BIN", REPO / ".build/debug/tollgate"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no tollgate binary at {binary}: build it (swift build) or set TOLLGATE_BIN", pytrace=False)
    return str(binary)


@pytest.fixture(scope="session")
def log_root(tmp_path_factory) -> Path:
    root = os.environ.get("RELIABILITY_LOG_DIR")
    path = Path(root) if root else tmp_path_factory.mktemp("reliability-logs")
    path.mkdir(parents=True, exist_ok=True)
    return path


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

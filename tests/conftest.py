"""Shared pytest configuration for duban's tests (unit fixtures live in tests/unit/conftest.py).

One guard for the whole suite: no test may leave a Temporal dev server running on the project's
own `var/temporal.db` (the one `duban up` and the CLI use). A service called without a Temporal
client starts that server detached, and it outlived the suite twice before anyone noticed; now
the session fails, names the leftover and stops it. A server the developer ran before the suite
is left alone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import pytest

# Every worker the suite builds (and every CLI it runs) runs workflows in the SDK's sandbox, which
# catches a non-deterministic call in workflow code; a deployment's workers leave it off for speed.
os.environ.setdefault("DUBAN_WORKFLOW_SANDBOX", "true")

from activities.config import ROOT

_OWN_DB = f"--db-filename {ROOT / 'var' / 'temporal.db'} "


def _own_dev_servers() -> dict[int, str]:
    """The dev servers running on the project's own var/temporal.db: pid → command line."""
    try:
        out = subprocess.run(["pgrep", "-af", "start-dev"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:  # no procps: nothing to look with
        return {}
    found = {}
    for line in out.splitlines():
        pid, _, cmd = line.partition(" ")
        if _OWN_DB in f"{cmd} ":
            found[int(pid)] = cmd
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = set(_own_dev_servers())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_BEFORE, set())
    left = {pid: cmd for pid, cmd in _own_dev_servers().items() if pid not in before}
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "a test left a Temporal dev server on the project's var/temporal.db (stopped now): "
                "give its Services a client of the test's own. " + "; ".join(left.values()),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[set[int]]()

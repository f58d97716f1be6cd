"""Helpers shared by the integration and end-to-end tests of the CLI."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.testing import WorkflowEnvironment


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr


def fill(path: Path, *, scores: int = 4, value: float = 90) -> None:
    """Fill every score cell of a score-sheet template, as the assessors would in Excel."""
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    for row in ws.iter_rows(min_row=2, min_col=3, max_col=2 + scores):
        for cell in row:
            cell.value = value
    wb.save(path)


async def skip(env: WorkflowEnvironment, duration: timedelta, *, rpc_timeout: timedelta = timedelta(minutes=5)) -> None:
    """`env.sleep` with room to wait: the time-skipping server answers only once the workers are
    idle, and a thousand workflows starting on a loaded machine outlast the call's default timeout
    ("Timeout expired" in the full suite, never alone)."""
    req = SleepRequest()
    req.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(req, timeout=rpc_timeout)

"""Helpers shared by the integration and end-to-end tests of the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from openpyxl import load_workbook


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

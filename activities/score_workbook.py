"""Score sheets as .xlsx files: write the blank template, read a filled one into cells.

The layout and every check live in `rules.score_import` (pure); this module only moves cells
between openpyxl and that module's `Cell`s.
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from models.assessment import ScoreSheet
from models.plan import Unit
from rules.score_import import Cell, column_letter, template

_WIDTH_UNIT, _WIDTH_NAME, _WIDTH_SCORE, _WIDTH_FINDINGS = 14, 24, 18, 48


class WorkbookError(Exception):
    """The file is not a workbook openpyxl can read (or not there)."""


def write_template(
    path: Path, sheet: ScoreSheet, units: tuple[Unit, ...], *, assessor: str | None = None, on: date | None = None
) -> None:
    """The blank sheet: a header row, one row per unit, a column per criterion (with Excel's
    own check that a score lies between 0 and the criterion's max points)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    rows = template(sheet, units, assessor=assessor, on=on)
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet.id
    for i, values in enumerate(rows, start=1):
        for j, v in enumerate(values, start=1):
            cell = ws.cell(row=i, column=j, value=v)
            if isinstance(v, str):
                cell.data_type = "s"  # a unit's or criterion's name is never a formula ("=…")
            if isinstance(v, date):
                cell.number_format = "yyyy-mm-dd"
            if i == 1:
                cell.font = Font(bold=True)
    n = len(sheet.criteria)
    widths = [_WIDTH_UNIT, _WIDTH_NAME, *([_WIDTH_SCORE] * n), _WIDTH_UNIT, _WIDTH_UNIT, _WIDTH_FINDINGS]
    for j, w in enumerate(widths):
        ws.column_dimensions[column_letter(j)].width = w
    last = len(rows)
    for j, c in enumerate(sheet.criteria, start=2):
        dv = DataValidation(
            type="decimal",
            operator="between",
            formula1="0",
            formula2=f"{c.max_points:g}",
            showErrorMessage=True,
            errorTitle="分数超出范围",
            error=f"{c.name}：0 至 {c.max_points:g} 分",
        )
        dv.add(f"{column_letter(j)}2:{column_letter(j)}{max(last, 2)}")
        ws.add_data_validation(dv)
    ws.freeze_panes = "C2"
    book.save(path)


def read_cells(path: Path, *, prefer: str | None = None) -> tuple[str, list[list[Cell]]]:
    """The worksheet titled `prefer` (else the first) as rows of cells, and its title.

    Formulas are read as formulas (never their cached values), so `rules.score_import` can
    refuse them.

    Raises:
        WorkbookError: no such file, or not an .xlsx workbook.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except FileNotFoundError:
        raise WorkbookError(f"{path}: no such file") from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise WorkbookError(f"{path}: not an Excel workbook (.xlsx): {e}") from None
    try:
        ws = book[prefer] if prefer and prefer in book.sheetnames else book.worksheets[0]
        rows = [[_cell(c) for c in row] for row in ws.iter_rows()]
        return ws.title, rows
    finally:
        book.close()


def _cell(c: Any) -> Cell:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    v = getattr(c, "value", None)
    if getattr(c, "data_type", None) == "f" or isinstance(v, (ArrayFormula, DataTableFormula)):
        text = v if isinstance(v, str) else getattr(v, "text", None) or "=…"
        return Cell(value=text, formula=True)
    if isinstance(v, datetime) and v.time() == datetime.min.time():
        return Cell(value=v.date())
    return Cell(value=v)

"""Score sheets as .xlsx files: write the blank template, read a filled one into cells.

The layout and every check live in `rules.score_import` (pure); this module only moves cells
between openpyxl and that module's `Cell`s.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from activities.xlsx_reader import XlsxError, read_sheet
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
    refuse them. Streamed and bounded by `activities.xlsx_reader` (not openpyxl, which pads rows
    to the sheet's stated size and fails on damaged parts without naming a cell).

    Raises:
        WorkbookError: no such file, not an .xlsx workbook, or cells that cannot be read (named).
    """
    try:
        sheet = read_sheet(path, prefer=prefer)
    except FileNotFoundError:
        raise WorkbookError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WorkbookError(f"{path}: is a directory, not a workbook") from None
    except XlsxError as e:
        raise WorkbookError(f"{path}: {e}") from None
    except OSError as e:
        raise WorkbookError(f"{path}: cannot be read ({e.strerror or e})") from None
    return sheet.title, sheet.rows

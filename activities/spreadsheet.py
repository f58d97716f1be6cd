"""Cells for the Excel workbooks we write (the audit export, the 台账, the final report).

Text in them comes from agencies (progress reports, titles), so it is always stored as text: a
report that begins with "=", "+", "-" or "@" is never read by Excel as a formula.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")  # what openpyxl refuses in a cell


def cells(ws: Any, values: Sequence[Any], *, bold: bool = False) -> list[Any]:
    """One row of write-only cells for `ws` (a sheet of a `Workbook(write_only=True)`)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    out = []
    for v in values:
        cell = WriteOnlyCell(ws, value=ILLEGAL.sub("", v) if isinstance(v, str) else v)
        if isinstance(v, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        elif isinstance(v, date):
            cell.number_format = "yyyy-mm-dd"
        elif isinstance(v, str):
            cell.data_type = "s"  # text from agencies is never a formula ("=…")
        if bold:
            cell.font = Font(bold=True)
        out.append(cell)
    return out

"""Sheets → XLSX (openpyxl, write-only): frozen, filterable header; agency text stored as text."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from activities.documents.files import reproducible_zip
from activities.documents.layout import RGB
from activities.spreadsheet import cells


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: tuple[tuple[str, float], ...]
    """Header and column width (characters)."""
    rows: tuple[tuple[Any, ...], ...]
    fills: tuple[RGB | None, ...] = ()
    """Per row: a background for the cell in column `fill_column`."""
    fill_column: int = -1


def render(sheets: Sequence[Sheet], *, title: str, author: str, when: datetime) -> bytes:
    """A workbook of `sheets`: the same sheets and time always give the same bytes."""
    from openpyxl import Workbook
    from openpyxl.xml.functions import tostring

    book = Workbook(write_only=True)
    book.properties.title = title
    book.properties.creator = author
    book.properties.lastModifiedBy = author
    book.properties.created = when
    book.properties.modified = when
    for sheet in sheets:
        _sheet(book, sheet)
    buf = io.BytesIO()
    book.save(buf)
    # openpyxl stamps "modified" with the wall clock as it saves: put the fixed time back.
    book.properties.modified = when
    core = tostring(book.properties.to_tree())
    return reproducible_zip(buf.getvalue(), when, {"docProps/core.xml": core})


def _sheet(book: Any, sheet: Sheet) -> None:
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(sheet.name)
    for i, (_, width) in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{len(sheet.rows) + 1}"
    ws.append(cells(ws, [name for name, _ in sheet.columns], bold=True))
    for n, values in enumerate(sheet.rows):
        row = cells(ws, values)
        fill = sheet.fills[n] if n < len(sheet.fills) else None
        if fill is not None:
            hex_ = "{:02X}{:02X}{:02X}".format(*fill)
            row[sheet.fill_column].fill = PatternFill("solid", start_color=hex_, end_color=hex_)
        ws.append(row)

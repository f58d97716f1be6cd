"""One worksheet of an .xlsx file read as cells, streamed and bounded, every problem by its cell.

openpyxl (read-only) pads every row to the sheet's stated dimensions, so a 6 KB file with one
cell at XFD1048576 asks it for 17 billion empty cells; and a truncated sheet, a missing part, a
shared string that does not exist or a number cell holding text come out of it as tracebacks
with no place. This reader walks the sheet's XML once (ElementTree's expat, which expands no
external entities and refuses entity bombs), keeps only cells that hold something, refuses any
beyond `MAX_ROWS` × `MAX_COLS`, and names each bad cell (`C7: not a number 'abc'`).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, NamedTuple
from xml.etree import ElementTree as ET

from rules.score_import import Cell, ref

MAX_ROWS = 20_000
"""Rows: a sheet holds a row per town; a province has about 1,000."""
MAX_COLS = 256
"""Columns: a sheet holds a column per criterion, a few dozen at most."""
MAX_PART_BYTES = 64_000_000
"""Uncompressed bytes of one part read (a zip bomb stops here)."""
MAX_PROBLEMS = 50

_NS = re.compile(r"^\{[^}]*\}")
_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]{0,6})$")
_DATE_IDS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 30, 36, 45, 46, 47, 50, 57}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class XlsxError(Exception):
    """The workbook cannot be read; the message names the part or the cells."""


class Sheet(NamedTuple):
    title: str
    rows: list[list[Cell]]


def _tag(e: ET.Element) -> str:
    return _NS.sub("", e.tag)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


class _Book:
    def __init__(self, z: zipfile.ZipFile) -> None:
        self.z = z
        self.names = set(z.namelist())

    def open(self, name: str) -> IO[bytes]:
        if name not in self.names:
            raise XlsxError(f"the workbook has no part {name} (a truncated or damaged file)")
        if self.z.getinfo(name).file_size > MAX_PART_BYTES:
            raise XlsxError(f"{name} is larger than {MAX_PART_BYTES:,} bytes: refused")
        return self.z.open(name)

    def tree(self, name: str) -> ET.Element:
        with self.open(name) as f:
            try:
                return ET.parse(f).getroot()
            except ET.ParseError as e:
                raise XlsxError(f"{name}: not readable XML ({e})") from None


def _sheets(book: _Book) -> list[tuple[str, str]]:
    """(title, part name) of each worksheet, in workbook order."""
    wb = book.tree("xl/workbook.xml")
    rels = book.tree("xl/_rels/workbook.xml.rels")
    target = {r.get("Id"): r.get("Target", "") for r in rels if _tag(r) == "Relationship"}
    out = []
    for s in wb.iter():
        if _tag(s) != "sheet":
            continue
        t = target.get(s.get(_REL))
        if t is None:
            raise XlsxError(f"worksheet {s.get('name')!r} has no part in the workbook")
        name = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
        out.append((s.get("name") or "", name))
    if not out:
        raise XlsxError("the workbook has no worksheet")
    return out


def _strings(book: _Book) -> list[str]:
    name = "xl/sharedStrings.xml"
    if name not in book.names:
        return []
    out = []
    for si in book.tree(name):
        if _tag(si) == "si":
            # Rich text runs (r/t) joined; phonetic hints (rPh) are not the cell's text.
            out.append("".join(t.text or "" for t in _texts(si)))
    return out


def _texts(e: ET.Element) -> Iterator[ET.Element]:
    for child in e:
        tag = _tag(child)
        if tag == "t":
            yield child
        elif tag == "r":
            yield from _texts(child)


def _date_styles(book: _Book) -> tuple[set[int], bool]:
    """Indexes of the cell styles that show a date, and whether the workbook counts from 1904."""
    epoch1904 = False
    wb = book.tree("xl/workbook.xml")
    for e in wb.iter():
        if _tag(e) == "workbookPr" and e.get("date1904") in ("1", "true"):
            epoch1904 = True
    name = "xl/styles.xml"
    if name not in book.names:
        return set(), epoch1904
    styles = book.tree(name)
    custom: dict[int, str] = {}
    xfs: list[int] = []
    for e in styles:
        if _tag(e) == "numFmts":
            for f in e:
                try:
                    custom[int(f.get("numFmtId", ""))] = f.get("formatCode", "")
                except ValueError:
                    continue
        if _tag(e) == "cellXfs":
            for xf in e:
                try:
                    xfs.append(int(xf.get("numFmtId", "0")))
                except ValueError:
                    xfs.append(0)

    def is_date(fid: int) -> bool:
        if fid in custom:
            code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", custom[fid]).lower()
            return bool(re.search(r"[ymdhs]", code)) and "general" not in code
        return fid in _DATE_IDS

    return {i for i, fid in enumerate(xfs) if is_date(fid)}, epoch1904


def _as_date(v: float, epoch1904: bool) -> date | datetime:
    base = datetime(1904, 1, 1) if epoch1904 else datetime(1899, 12, 30)
    if not 0 <= v < 2_958_466:  # 9999-12-31
        raise ValueError(f"{v:g} is not a date Excel can show")
    d = base + timedelta(days=v)
    return d.date() if d.time() == datetime.min.time() else d


def read_sheet(path: Path, *, prefer: str | None = None) -> Sheet:
    """The worksheet titled `prefer` (else the first) as rows of cells (formulas as their text).

    Raises:
        FileNotFoundError: no such file.
        XlsxError: not a workbook, a damaged part, cells beyond the bounds or unreadable.
    """
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, NotImplementedError, EOFError) as e:
        raise XlsxError(f"not an Excel workbook (.xlsx): {e}") from None
    with z:
        try:
            book = _Book(z)
            sheets = _sheets(book)
            title, part = next(((t, p) for t, p in sheets if t == prefer), sheets[0])
            strings = _strings(book)
            dates, epoch1904 = _date_styles(book)
            return Sheet(title, _cells(book, part, strings, dates, epoch1904))
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
            # A damaged archive (a bad CRC, a cut stream, an encrypted or unknown compression).
            raise XlsxError(f"a damaged workbook: {e}") from None


def _cells(book: _Book, part: str, strings: list[str], dates: set[int], epoch1904: bool) -> list[list[Cell]]:
    grid: dict[int, dict[int, Cell]] = {}
    problems: list[str] = []
    row_no = 0
    col_no = -1
    with book.open(part) as f:
        try:
            for _, e in ET.iterparse(f, events=("end",)):
                tag = _tag(e)
                if tag == "row":
                    e.clear()
                    continue
                if tag != "c":
                    continue
                r = e.get("r")
                if r is not None:
                    m = _REF.match(r)
                    if not m:
                        raise XlsxError(f"{part}: a cell with the bad reference {r!r}")
                    row_no, col_no = int(m[2]) - 1, _col_index(m[1])
                else:
                    col_no += 1
                at = ref(row_no, col_no)
                try:
                    cell = _cell(e, strings, dates, epoch1904)
                except ValueError as err:
                    problems.append(f"{at}: {err}")
                    if len(problems) >= MAX_PROBLEMS:
                        break
                    cell = None
                e.clear()
                if cell is None or (not cell.formula and cell.value in (None, "")):
                    continue  # an empty cell (only styled) holds nothing to read, wherever it is
                if row_no >= MAX_ROWS or col_no >= MAX_COLS:
                    raise XlsxError(
                        f"{at}: beyond the bounds a score sheet may use ({ref(MAX_ROWS - 1, MAX_COLS - 1)}): refused"
                    )
                grid.setdefault(row_no, {})[col_no] = cell
        except ET.ParseError as err:
            raise XlsxError(f"{part}: not readable XML ({err}; a truncated sheet?)") from None
    if problems:
        raise XlsxError("; ".join(problems))
    if not grid:
        return []
    width = max(max(cols) for cols in grid.values()) + 1
    return [[grid.get(i, {}).get(j, Cell(None)) for j in range(width)] for i in range(max(grid) + 1)]


def _cell(e: ET.Element, strings: list[str], dates: set[int], epoch1904: bool) -> Cell | None:
    kind = e.get("t", "n")
    v = f = text = None
    for child in e:
        tag = _tag(child)
        if tag == "v":
            v = child.text
        elif tag == "f":
            f = child.text
        elif tag == "is":
            text = "".join(t.text or "" for t in _texts(child))
    if f is not None:
        return Cell(value="=" + f, formula=True)
    if kind == "inlineStr":
        return Cell(value=text or "")
    if v is None:
        return None
    if kind == "s":
        try:
            return Cell(value=strings[int(v)])
        except (ValueError, IndexError):
            raise ValueError(f"shared string {v!r} does not exist in the workbook") from None
    if kind in ("str", "e"):
        return Cell(value=v)
    if kind == "b":
        if v not in ("0", "1"):
            raise ValueError(f"not true or false: {v!r}")
        return Cell(value=v == "1")
    if kind == "d":
        try:
            return Cell(value=datetime.fromisoformat(v))
        except ValueError:
            raise ValueError(f"not a date: {v!r}") from None
    if kind != "n":
        raise ValueError(f"unknown cell type {kind!r}")
    try:
        num = float(v)
    except ValueError:
        raise ValueError(f"not a number: {v[:40]!r}") from None
    if num != num or num in (float("inf"), float("-inf")):
        raise ValueError(f"not a number: {v[:40]!r}")
    try:
        style = int(e.get("s", "0"))
    except ValueError:
        style = 0
    if style in dates:
        return Cell(value=_as_date(num, epoch1904))
    return Cell(value=int(num) if num.is_integer() and "." not in v and "E" not in v.upper() else num)

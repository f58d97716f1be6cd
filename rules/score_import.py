"""Score sheets as spreadsheets: the template's layout, and an imported grid checked cell by cell.

Pure: the grid arrives as rows of `Cell`s (activities.score_workbook reads and writes the
.xlsx). The import is all or nothing: `read_scores` returns every row's record, or every bad
cell by its reference (`B7: 分数 105 超过满分 100`) and no records.

Layout: row 1 is the header, one row per unit below. A header names its column; the template
writes "名称 [key]" and the key in brackets is what is read, so the Chinese label may be edited.
A bare key or a criterion's exact name is read too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

from models.assessment import CellError, ScoreImport, ScoreRecord, ScoreSheet
from models.plan import Unit
from rules.scoring import date_problem, find_unit, fmt, number, points_problem

UNIT, NAME, ASSESSOR, DATE, FINDINGS = "unit", "name", "assessor", "date", "findings"
LABELS = {UNIT: "单位代码", NAME: "单位名称", ASSESSOR: "评分人", DATE: "评分日期", FINDINGS: "发现问题"}
_KEY = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_]*)\s*\]\s*$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_SPLIT = re.compile(r"[\r\n；;]+")
_SHOWN = 40


class Cell(NamedTuple):
    """A cell as read: its value (str, int, float, bool, date, datetime or None) and whether it
    holds a formula (then `value` is the formula's text)."""

    value: object
    formula: bool = False


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def ref(row: int, col: int) -> str:
    """The A1 reference of a 0-based (row, col)."""
    return f"{column_letter(col)}{row + 1}"


def header(sheet: ScoreSheet) -> list[str]:
    """The template's header row."""
    return [
        f"{LABELS[UNIT]} [{UNIT}]",
        f"{LABELS[NAME]} [{NAME}]",
        *(f"{c.name}（满分{fmt(c.max_points)}）[{c.id}]" for c in sheet.criteria),
        f"{LABELS[ASSESSOR]} [{ASSESSOR}]",
        f"{LABELS[DATE]} [{DATE}]",
        f"{LABELS[FINDINGS]} [{FINDINGS}]",
    ]


def template(
    sheet: ScoreSheet, units: Sequence[Unit], *, assessor: str | None = None, on: date | None = None
) -> list[list[object]]:
    """The blank sheet: the header, and one row per unit with its id and name (and the assessor
    and date when given), the scores left empty."""
    blanks: list[object] = [None] * len(sheet.criteria)
    return [list(header(sheet)), *([u.id, u.name, *blanks, assessor, on, None] for u in units)]


def _blank(c: Cell) -> bool:
    return not c.formula and (c.value is None or (isinstance(c.value, str) and not c.value.strip()))


def _shown(v: object) -> str:
    s = str(v).strip()
    return s if len(s) <= _SHOWN else s[: _SHOWN - 1] + "…"


def _columns(sheet: ScoreSheet, row: Sequence[Cell], errors: list[CellError]) -> dict[str, int]:
    """Header key → column index; unknown, repeated and missing columns are errors."""
    known = {k: k for k in LABELS} | {v: k for k, v in LABELS.items()}
    known |= {c.id: c.id for c in sheet.criteria} | {c.name: c.id for c in sheet.criteria}
    cols: dict[str, int] = {}
    for j, cell in enumerate(row):
        if cell.formula or _blank(cell):
            continue
        text = str(cell.value).strip()
        m = _KEY.search(text)
        key = known.get(m[1] if m else text)
        if key is None:
            errors.append(CellError(cell=ref(0, j), message=f"未知的列 “{_shown(text)}”（评分表 {sheet.id}）"))
        elif key in cols:
            errors.append(CellError(cell=ref(0, j), message=f"列 {key} 重复（已在 {column_letter(cols[key])} 列）"))
        else:
            cols[key] = j
    for key in (UNIT, *(c.id for c in sheet.criteria)):
        if key not in cols:
            label = LABELS.get(key) or sheet.criterion(key).name
            errors.append(CellError(cell="1:1", message=f"缺少列 “{label} [{key}]”"))
    return cols


def _points(sheet: ScoreSheet, criterion_id: str, c: Cell) -> tuple[float | None, str | None]:
    v = c.value
    if _blank(c):
        return None, "缺少分数"
    if isinstance(v, (bool, date)):  # a date (or datetime) in a score column is a slip, not points
        return None, f"“{_shown(v)}” 不是数字"
    if isinstance(v, (int, float)):
        p: float | None = float(v)
    elif isinstance(v, str):
        p = number(v)  # a number typed as text (WPS and pasted sheets make many) still reads
    else:
        p = None
    if p is None or not math.isfinite(p):
        return None, f"“{_shown(v)}” 不是数字"
    why = points_problem(sheet, criterion_id, p)
    return (None, why) if why else (p, None)


def _date(c: Cell) -> date | None:
    v = c.value
    if isinstance(v, datetime):
        return v.date() if v.time() == datetime.min.time() else None
    if isinstance(v, date):
        return v
    if isinstance(v, str) and (m := _DATE.match(v.strip())):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    return None


def read_scores(
    sheet: ScoreSheet,
    units: Sequence[Unit],
    rows: Sequence[Sequence[Cell]],
    *,
    source: str,
    assessor: str | None = None,
    on: date | None = None,
) -> ScoreImport:
    """Every row's score record, or every bad cell and no records.

    Args:
        units: the units in scope; a row's unit is one of them, by id or by name.
        rows: the worksheet, row 1 first.
        source: a label for the records (the file's name); each record gets "SOURCE:ROW".
        assessor, on: for rows that leave the 评分人 / 评分日期 cell empty (or have no such column).
    """
    errors: list[CellError] = []
    for i, row in enumerate(rows):
        for j, c in enumerate(row):
            if c.formula:
                errors.append(CellError(cell=ref(i, j), message=f"公式 {_shown(c.value)} 不予导入：请填写数值"))
    if not rows:
        return ScoreImport(errors=(CellError(cell="1:1", message="工作表是空的：第 1 行应为表头"),))
    cols = _columns(sheet, rows[0], errors)
    if ASSESSOR not in cols and assessor is None:
        errors.append(
            CellError(cell="1:1", message=f"缺少列 “{LABELS[ASSESSOR]} [{ASSESSOR}]”（或用 --assessor 指定）")
        )
    if DATE not in cols and on is None:
        errors.append(CellError(cell="1:1", message=f"缺少列 “{LABELS[DATE]} [{DATE}]”（或用 --date 指定）"))
    used = set(cols.values())
    width = len(rows[0])
    seen: dict[str, int] = {}
    records: list[ScoreRecord] = []
    for i, row in enumerate(rows[1:], start=1):
        if all(_blank(c) for c in row):
            continue
        for j, c in enumerate(row):
            # Under an unknown header the header cell is the error; under none, the cell itself.
            headless = j >= width or _blank(rows[0][j])
            if j not in used and headless and not c.formula and not _blank(c):
                errors.append(CellError(cell=ref(i, j), message=f"“{_shown(c.value)}” 没有表头：请删去或移入对应列"))

        def at(key: str, row: Sequence[Cell] = row) -> tuple[int, Cell]:
            j = cols[key]
            return j, (row[j] if j < len(row) else Cell(None))

        def bad(j: int, message: str, i: int = i) -> None:
            errors.append(CellError(cell=ref(i, j), message=message))

        unit: Unit | None = None
        if UNIT in cols:
            j, c = at(UNIT)
            if _blank(c):
                bad(j, "缺少单位代码")
            elif not c.formula:
                unit = find_unit(units, str(c.value))
                if unit is None:
                    bad(j, f"未知单位 “{_shown(c.value)}”：不是评分范围内的镇、场、景区")
                elif unit.id in seen:
                    bad(j, f"单位 {unit.id}（{unit.name}）重复：已在第 {seen[unit.id] + 1} 行")
                    unit = None
                else:
                    seen[unit.id] = i
        if NAME in cols and unit is not None:
            j, c = at(NAME)
            if not _blank(c) and not c.formula and str(c.value).strip() not in (unit.name, unit.id):
                bad(j, f"单位名称 “{_shown(c.value)}” 与单位代码 {unit.id}（{unit.name}）不符")
        points: dict[str, float] = {}
        for crit in sheet.criteria:
            if crit.id not in cols:
                continue
            j, c = at(crit.id)
            if c.formula:
                continue
            p, why = _points(sheet, crit.id, c)
            if why:
                bad(j, why)
            elif p is not None:
                points[crit.id] = p
        who = assessor
        if ASSESSOR in cols:
            j, c = at(ASSESSOR)
            if not _blank(c) and not c.formula:
                who = str(c.value).strip()
                if len(who) > 64:
                    bad(j, "评分人超过 64 个字")
            elif _blank(c) and assessor is None:
                bad(j, "缺少评分人")
        day = on
        if DATE in cols:
            j, c = at(DATE)
            if not _blank(c) and not c.formula:
                day = _date(c)
                if day is None:
                    bad(j, f"“{_shown(c.value)}” 不是日期（YYYY-MM-DD）")
            elif _blank(c) and on is None:
                bad(j, "缺少评分日期")
            if day is not None and (why := date_problem(sheet, day)):
                bad(j, why)
        elif day is not None and (why := date_problem(sheet, day)):
            errors.append(CellError(cell="1:1", message=f"--date: {why}"))
        findings: tuple[str, ...] = ()
        if FINDINGS in cols:
            _, c = at(FINDINGS)
            if not _blank(c) and not c.formula:
                findings = tuple(x.strip() for x in _SPLIT.split(str(c.value)) if x.strip())
        if (
            unit is not None
            and len(points) == len(sheet.criteria)
            and who
            and len(who) <= 64
            and day is not None
            and not date_problem(sheet, day)
        ):
            records.append(
                ScoreRecord(
                    sheet_id=sheet.id,
                    unit_id=unit.id,
                    assessor=who,
                    assessed_on=day,
                    points=points,
                    findings=findings,
                    source=f"{source}:{i + 1}",
                )
            )
    if not errors and not records:
        errors.append(CellError(cell="2:2", message="没有可导入的评分行"))
    if errors:
        return ScoreImport(errors=tuple(_dedupe(sorted(errors, key=_order))))
    return ScoreImport(records=tuple(records))


def _order(e: CellError) -> tuple[int, int, str]:
    m = re.match(r"^([A-Z]+)(\d+)$", e.cell)
    if not m:
        return (int(e.cell.split(":")[0]) - 1, -1, e.message)
    col = 0
    for ch in m[1]:
        col = col * 26 + ord(ch) - 64
    return (int(m[2]) - 1, col - 1, e.message)


def _dedupe(errors: list[CellError]) -> list[CellError]:
    out: list[CellError] = []
    for e in errors:
        if not out or out[-1] != e:
            out.append(e)
    return out

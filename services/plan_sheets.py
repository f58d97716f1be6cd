"""`duban plan export FILE --xlsx` and `duban plan import BOOK.xlsx --plan FILE`: the 任务分解表 and
单位目录 an office keeps in Excel, to and from the plan files.

Read with the bounded workbook reader (`activities.xlsx_reader`), checked cell by cell
(`rules.plan_sheets`), and written only when every sheet read is whole: a refused workbook
leaves no output file behind (exit 2, the bad cells named).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import openpyxl
from pydantic import ValidationError

from activities.delivery import load_contacts
from activities.xlsx_reader import XlsxError, read_sheet
from models.plan import UnitDirectory
from rules.contact_sheets import CONTACT_SHEET, contact_rows, read_contact_rows
from rules.contacts import parse_contacts
from rules.loading import SourceError, parse_plan, parse_yaml
from rules.plan_sheets import TASK_SHEET, UNIT_SHEET, SheetError, read_task_rows, read_unit_rows, task_rows, unit_rows
from services.errors import Invalid
from services.plan_import import draft_yaml, write_whole
from services.plans import load_plan, read_text


def export_xlsx(plan_path: Path, out: Path, *, contacts: Path | None = None) -> tuple[int, int]:
    """Write the plan's 任务分解表 and 单位目录 (and the 联系方式 of `contacts`) to `out`;
    (tasks, units) written."""
    plan = load_plan(plan_path)
    book = load_contacts(contacts) if contacts is not None else None
    raw, _ = parse_yaml(read_text(plan_path), path=str(plan_path))
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has its one sheet
    ws.title = TASK_SHEET
    for row in task_rows(plan, raw["tasks"]):
        ws.append(row)
    units = wb.create_sheet(UNIT_SHEET)
    for row in unit_rows(plan.directory):
        units.append(row)
    if book is not None:
        sheet = wb.create_sheet(CONTACT_SHEET)
        for row in contact_rows(book, plan.directory):
            sheet.append(row)
    tmp = out.with_name(f".{out.name}.tmp.xlsx")
    try:
        wb.save(str(tmp))
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise Invalid(f"{out}: cannot be written ({e.strerror or e})") from None
    return len(plan.tasks), len(plan.directory.units)


def _sheet_rows(book: Path, title: str) -> list[Any]:
    try:
        sheet = read_sheet(book, prefer=title)
    except FileNotFoundError:
        raise Invalid(f"{book}: no such file") from None
    except XlsxError as e:
        raise SourceError(str(book), 1, str(e)) from None
    if sheet.title != title:
        raise SourceError(str(book), 1, f"the workbook has no sheet named {title}")
    return sheet.rows


def import_xlsx(
    book: Path, *, plan_path: Path, out: Path, units_out: Path | None = None, contacts_out: Path | None = None
) -> tuple[str, str | None]:
    """The plan `plan_path` with the workbook's 任务分解表 as its tasks, written to `out` (and the
    单位目录 to `units_out`, the 联系方式 to `contacts_out`, when given): (plan text, directory
    text). Nothing is written unless every sheet asked for reads whole."""
    plan = load_plan(plan_path)
    raw, _ = parse_yaml(read_text(plan_path), path=str(plan_path))
    # Every sheet asked for is read and all their bad cells are named together; tasks may name
    # units the 单位目录 sheet adds, so that sheet is read first when it is asked for.
    problems: list[str] = []
    directory = plan.directory
    udata: dict[str, Any] | None = None
    if units_out is not None:
        try:
            udata = read_unit_rows(_sheet_rows(book, UNIT_SHEET), region=directory.region, source=directory.source)
            directory = UnitDirectory.model_validate(udata)
        except SheetError as e:
            problems += [f"{e.sheet}!{p}" for p in e.problems]
        except ValidationError as e:
            problems.append(f"{UNIT_SHEET}: {e.errors(include_url=False)[0]['msg']}")
    tasks: list[dict[str, Any]] = []
    try:
        tasks = read_task_rows(_sheet_rows(book, TASK_SHEET), plan, directory)
    except SheetError as e:
        problems += [f"{e.sheet}!{p}" for p in e.problems]
    cunits: dict[str, Any] = {}
    if contacts_out is not None:
        try:
            cunits = read_contact_rows(_sheet_rows(book, CONTACT_SHEET), directory)
        except SheetError as e:
            problems += [f"{e.sheet}!{p}" for p in e.problems]
    if problems:
        raise Invalid(f"{book}: " + "; ".join(problems))
    # With the 单位目录 written too, the plan (and contacts) name that file: the units the tasks use.
    dpath = units_out if units_out is not None else plan_path.parent / str(raw["directory"])
    dref = os.path.relpath(dpath, out.parent) if units_out is not None else raw["directory"]
    text = draft_yaml({**raw, "directory": dref, "tasks": tasks}, source=f"{book.name}（{TASK_SHEET}）", head=False)
    # The whole plan is checked as a plan (categories, units, sizes) before anything is written.
    parse_plan(text, path=str(out), directory=directory)
    units_text = draft_yaml(udata, source=f"{book.name}（{UNIT_SHEET}）", head=False) if udata else None
    contacts_text = None
    if contacts_out is not None:
        cref = os.path.relpath(dpath, contacts_out.parent)
        cdata = {"region": directory.region, "directory": cref, "units": cunits}
        contacts_text = draft_yaml(cdata, source=f"{book.name}（{CONTACT_SHEET}）", head=False)
        parse_contacts(contacts_text, path=str(contacts_out), directory=directory)
    if units_out is not None and units_text is not None:
        write_whole(units_out, units_text)
    if contacts_out is not None and contacts_text is not None:
        write_whole(contacts_out, contacts_text)
    write_whole(out, text)  # the plan last: a plan is never written without the files it names
    return text, units_text

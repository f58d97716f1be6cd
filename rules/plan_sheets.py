"""The 任务分解表 and 单位目录 sheets an office keeps, to and from plan data (pure).

`duban plan export FILE --xlsx` writes them; `duban plan import BOOK.xlsx --plan FILE` reads the
任务分解表 back onto the plan (and the 单位目录 back to a directory file). Every bad cell is named
(`C7: 未知单位 县教育局局`) and a sheet with any bad cell is refused whole: nothing half-read.
"""

from __future__ import annotations

import re
from typing import Any

from models.plan import LOCAL_UNITS, Plan, UnitDirectory, UnitKind
from rules.score_import import Cell, ref

TASK_SHEET = "任务分解表"
UNIT_SHEET = "单位目录"
TASK_HEADER = ["序号", "重点任务", "牵头单位", "责任单位", "完成时限", "类别", "编号", "工作内容"]
UNIT_HEADER = ["编号", "单位名称", "类型", "城关镇", "备注"]
LOCAL_NAME = "各镇、场、景区人民政府或管委会"
"""How the sheet writes "@local", as the 随县 text does."""
OPEN = "待填："
"""A cell left to fill in: 待填：牵头单位：原文未明确 is the plan's {to_fill: 牵头单位：原文未明确}."""
MAX_PROBLEMS = 50


class SheetError(ValueError):
    """Bad cells, each as `C7: message`."""

    def __init__(self, sheet: str, problems: list[str]) -> None:
        super().__init__(f"{sheet}: " + "; ".join(problems))
        self.sheet = sheet
        self.problems = problems


def due_text(plan: Plan) -> str:
    """完成时限 as the plan sets it: every task falls due at each rollout milestone."""
    parts = []
    for i, p in enumerate(plan.phases):
        if not p.tasks_due_at_milestones:
            continue
        for j, m in enumerate(p.milestones):
            open_ = plan.open_field("phases", i, "milestones", j, "due") is not None
            parts.append(f"{m.due.isoformat()}{'（待填）' if open_ else ''}")
    return "、".join(parts) or f"{plan.phases[-1].end.isoformat()}"


def _names(ids: list[str], directory: UnitDirectory) -> str:
    units = directory.by_id()
    return "、".join(LOCAL_NAME if u == LOCAL_UNITS else units[u].name for u in ids)


def _open_or(value: Any, show: Any) -> str:
    if isinstance(value, dict) and "to_fill" in value:
        return OPEN + str(value["to_fill"])
    return str(show(value))


def task_rows(plan: Plan, raw_tasks: list[dict[str, Any]]) -> list[list[Any]]:
    """The 任务分解表 of a plan (`raw_tasks`: the file's tasks, to_fill markers and all)."""
    cats = {c.no: c.name for c in plan.categories}
    units = plan.directory.by_id()
    due = due_text(plan)
    rows: list[list[Any]] = [list(TASK_HEADER)]
    for t in raw_tasks:
        rows.append(
            [
                t["no"],
                t["name"],
                _open_or(t["lead"], lambda u: units[u].name),
                _open_or(t.get("responsible", []), lambda us: _names(list(us), plan.directory)),
                due,
                cats[t["category"]],
                t.get("ref") or "",
                t.get("text") or "",
            ]
        )
    return rows


def cell_text(c: Cell | None) -> str:
    if c is None or c.value is None:
        return ""
    return str(c.value).strip()


def read_task_rows(rows: list[list[Cell]], plan: Plan, directory: UnitDirectory | None = None) -> list[dict[str, Any]]:
    """The plan's tasks as the sheet gives them, units named from `directory` (default: the
    plan's; the 单位目录 sheet's when it is read too); SheetError naming every bad cell."""
    problems: list[str] = []
    by_name = {u.name: u.id for u in (directory or plan.directory).units}
    cats = {c.name: c.no for c in plan.categories}
    due = due_text(plan)

    def bad(r: int, c: int, msg: str) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(f"{ref(r, c)}: {msg}")

    if not rows or [cell_text(c) for c in rows[0][: len(TASK_HEADER)]] != TASK_HEADER:
        raise SheetError(TASK_SHEET, [f"A1: the header must read {'、'.join(TASK_HEADER)}"])

    def unit_ids(r: int, c: int, cell: str) -> list[str] | None:
        out: list[str] = []
        rest = cell
        if LOCAL_NAME in rest:
            rest = rest.replace(LOCAL_NAME, "")
            local = True
        else:
            local = False
        ok = True
        for name in (n.strip() for n in rest.replace("，", "、").split("、")):
            if not name:
                continue
            if name not in by_name:
                bad(r, c, f"未知单位 {name}")
                ok = False
            else:
                out.append(by_name[name])
        if local:
            out.append(LOCAL_UNITS)
        return out if ok else None

    tasks: list[dict[str, Any]] = []
    for r, row in enumerate(rows[1:], start=1):
        cells = [cell_text(row[i] if i < len(row) else None) for i in range(len(TASK_HEADER))]
        if not any(cells):
            continue
        for i, cell in enumerate(row[: len(TASK_HEADER)]):
            if cell.formula:
                bad(r, i, "a formula: the sheet must hold values")
        no_cell = row[0].value if row else None
        no = (
            no_cell
            if isinstance(no_cell, int)
            else int(no_cell)
            if isinstance(no_cell, float) and no_cell.is_integer()
            else None
        )
        if no is None and isinstance(no_cell, str) and no_cell.strip().isdigit():
            no = int(no_cell.strip())
        if no != len(tasks) + 1:
            bad(r, 0, f"序号 must be {len(tasks) + 1} (tasks numbered in order), not {cells[0]!r}")
        task: dict[str, Any] = {"no": len(tasks) + 1}
        if cells[6]:
            task["ref"] = cells[6]
        if not cells[1]:
            bad(r, 1, "重点任务 is empty")
        task["name"] = cells[1]
        if cells[5] not in cats:
            bad(r, 5, f"未知类别 {cells[5]}" if cells[5] else "类别 is empty")
        task["category"] = cats.get(cells[5], 0)
        if cells[2].startswith(OPEN):
            task["lead"] = {"to_fill": cells[2][len(OPEN) :] or "牵头单位"}
        elif cells[2] in by_name:
            task["lead"] = by_name[cells[2]]
        else:
            bad(r, 2, f"未知单位 {cells[2]}" if cells[2] else "牵头单位 is empty")
        if cells[3].startswith(OPEN):
            task["responsible"] = {"to_fill": cells[3][len(OPEN) :] or "责任单位"}
        else:
            ids = unit_ids(r, 3, cells[3])
            task["responsible"] = ids or []
        if cells[4] != due:
            bad(r, 4, f"完成时限 {cells[4]!r} is not the plan's ({due}): milestones are set in the plan, not per task")
        if cells[7]:
            task["text"] = cells[7]
        tasks.append(task)
    if not tasks and not problems:
        problems.append("A2: no task rows")
    if problems:
        raise SheetError(TASK_SHEET, problems)
    return tasks


def unit_rows(directory: UnitDirectory) -> list[list[Any]]:
    rows: list[list[Any]] = [list(UNIT_HEADER)]
    for u in directory.units:
        rows.append([u.id, u.name, u.kind.value, "是" if u.seat else "", u.note or ""])
    return rows


def read_unit_rows(rows: list[list[Cell]], *, region: str, source: str | None) -> dict[str, Any]:
    """A unit directory's data from its sheet (validated by the caller as `UnitDirectory`)."""
    problems: list[str] = []
    if not rows or [cell_text(c) for c in rows[0][: len(UNIT_HEADER)]] != UNIT_HEADER:
        raise SheetError(UNIT_SHEET, [f"A1: the header must read {'、'.join(UNIT_HEADER)}"])
    units: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for r, row in enumerate(rows[1:], start=1):
        cells = [cell_text(row[i] if i < len(row) else None) for i in range(len(UNIT_HEADER))]
        if not any(cells):
            continue
        if not cells[0]:
            problems.append(f"{ref(r, 0)}: 编号 is empty")
        elif cells[0] in seen:
            problems.append(f"{ref(r, 0)}: 编号 {cells[0]} again (first at {ref(seen[cells[0]], 0)})")
        seen.setdefault(cells[0], r)
        if not cells[1]:
            problems.append(f"{ref(r, 1)}: 单位名称 is empty")
        elif not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", cells[0]):
            problems.append(f"{ref(r, 0)}: 编号 {cells[0]!r} is not a unit id (lower-case letters, digits, - and _)")
        if cells[2] not in {k.value for k in UnitKind}:
            problems.append(f"{ref(r, 2)}: 类型 {cells[2]!r} is not one of {'、'.join(k.value for k in UnitKind)}")
        if cells[3] not in ("", "是"):
            problems.append(f"{ref(r, 3)}: 城关镇 is 是 or empty, not {cells[3]!r}")
        unit: dict[str, Any] = {"id": cells[0], "name": cells[1], "kind": cells[2]}
        if cells[3] == "是":
            unit["seat"] = True
        if cells[4]:
            unit["note"] = cells[4]
        units.append(unit)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise SheetError(UNIT_SHEET, problems)
    data: dict[str, Any] = {"region": region}
    if source:
        data["source"] = source
    data["units"] = units
    return data

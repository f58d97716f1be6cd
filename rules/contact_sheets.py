"""The 联系方式 sheet (unit × e-mail × webhook × channels), to and from a contacts file (pure).

Each row is checked as a `Contact`; a bad cell is named (`联系方式!D5: …`) and a sheet with any
bad cell is refused whole. Secrets never go in the sheet, as never in the file: only the name of
the environment variable that holds a webhook's secret.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from models.contacts import Contact, ContactBook
from models.plan import UnitDirectory
from rules.plan_sheets import MAX_PROBLEMS, SheetError, cell_text
from rules.score_import import Cell, ref

CONTACT_SHEET = "联系方式"
CONTACT_HEADER = ["编号", "单位名称", "联系人", "邮箱", "Webhook", "密钥环境变量", "推送渠道"]
_FIELDS = {"name": 2, "email": 3, "webhook": 4, "webhook_secret_env": 5, "channels": 6}
NO_CHANNEL = "无"
"""推送渠道 when the unit is reached in the inbox only (an empty list, not "every channel")."""


def contact_rows(book: ContactBook, directory: UnitDirectory) -> list[list[Any]]:
    units = directory.by_id()
    rows: list[list[Any]] = [list(CONTACT_HEADER)]
    for uid, c in book.units.items():
        channels = "" if c.channels is None else ("、".join(ch.value for ch in c.channels) or NO_CHANNEL)
        rows.append(
            [
                uid,
                units[uid].name if uid in units else "",
                c.name or "",
                c.email or "",
                str(c.webhook) if c.webhook else "",
                c.webhook_secret_env or "",
                channels,
            ]
        )
    return rows


def read_contact_rows(rows: list[list[Cell]], directory: UnitDirectory) -> dict[str, Any]:
    """The contacts' `units` mapping from the sheet; SheetError naming every bad cell."""
    if not rows or [cell_text(c) for c in rows[0][: len(CONTACT_HEADER)]] != CONTACT_HEADER:
        raise SheetError(CONTACT_SHEET, [f"A1: the header must read {'、'.join(CONTACT_HEADER)}"])
    known = directory.by_id()
    problems: list[str] = []
    units: dict[str, Any] = {}
    for r, row in enumerate(rows[1:], start=1):
        if len(problems) >= MAX_PROBLEMS:
            break
        cells = [cell_text(row[i] if i < len(row) else None) for i in range(len(CONTACT_HEADER))]
        if not any(cells):
            continue
        uid = cells[0]
        if uid not in known:
            problems.append(f"{ref(r, 0)}: 未知单位 {uid}" if uid else f"{ref(r, 0)}: 编号 is empty")
            continue
        if uid in units:
            problems.append(f"{ref(r, 0)}: 单位 {uid} again")
            continue
        entry: dict[str, Any] = {}
        for field, col in _FIELDS.items():
            if field == "channels":
                if cells[col] == NO_CHANNEL:
                    entry["channels"] = []
                elif cells[col]:
                    entry["channels"] = [c.strip() for c in cells[col].replace("，", "、").split("、") if c.strip()]
            elif cells[col]:
                entry[field] = cells[col]
        try:
            Contact.model_validate(entry)
        except ValidationError as e:
            for err in e.errors(include_url=False):
                col = _FIELDS.get(str(err["loc"][0]), 0) if err["loc"] else 0
                problems.append(f"{ref(r, col)}: {err['msg']}")
            continue
        units[uid] = entry
    if problems:
        raise SheetError(CONTACT_SHEET, problems)
    return units

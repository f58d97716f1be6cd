"""The 联系方式 sheet (unit × e-mail × webhook × channels × group robots), to and from a contacts
file (pure). The robot columns (H–M) may be left out: a sheet written before them still reads.

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
BASE_HEADER = ["编号", "单位名称", "联系人", "邮箱", "Webhook", "密钥环境变量", "推送渠道"]
ROBOT_HEADER = [
    "企业微信机器人", "企业微信密钥环境变量", "钉钉机器人", "钉钉密钥环境变量", "飞书机器人", "飞书密钥环境变量",
]  # fmt: skip
CONTACT_HEADER = BASE_HEADER + ROBOT_HEADER
_FIELDS = {"name": 2, "email": 3, "webhook": 4, "webhook_secret_env": 5, "channels": 6}
_ROBOTS = {"wecom": 7, "dingtalk": 9, "feishu": 11}
"""Robot → its URL column; the column after it names its secret's variable."""
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
                *(cell for kind in _ROBOTS for cell in _robot_cells(c, kind)),
            ]
        )
    return rows


def _robot_cells(c: Contact, kind: str) -> tuple[str, str]:
    robot = getattr(c, kind)
    return (str(robot.url), robot.secret_env) if robot is not None else ("", "")


def _error_column(loc: tuple[int | str, ...]) -> int:
    if not loc:
        return 0
    field = str(loc[0])
    if field in _ROBOTS:
        return _ROBOTS[field] + (1 if len(loc) > 1 and loc[1] == "secret_env" else 0)
    return _FIELDS.get(field, 0)


def read_contact_rows(rows: list[list[Cell]], directory: UnitDirectory) -> dict[str, Any]:
    """The contacts' `units` mapping from the sheet; SheetError naming every bad cell."""
    if not rows or [cell_text(c) for c in rows[0][: len(BASE_HEADER)]] != BASE_HEADER:
        raise SheetError(CONTACT_SHEET, [f"A1: the header must read {'、'.join(BASE_HEADER)}"])
    extra = [cell_text(c) for c in rows[0][len(BASE_HEADER) : len(CONTACT_HEADER)]]
    robots = any(extra)
    if robots and extra != ROBOT_HEADER:
        raise SheetError(CONTACT_SHEET, [f"H1: the robot columns' header must read {'、'.join(ROBOT_HEADER)}"])
    width = len(CONTACT_HEADER) if robots else len(BASE_HEADER)
    known = directory.by_id()
    problems: list[str] = []
    units: dict[str, Any] = {}
    for r, row in enumerate(rows[1:], start=1):
        if len(problems) >= MAX_PROBLEMS:
            break
        cells = [cell_text(row[i] if i < len(row) else None) for i in range(width)]
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
        for kind, col in _ROBOTS.items():
            if col < width and (cells[col] or cells[col + 1]):
                entry[kind] = {"url": cells[col], "secret_env": cells[col + 1]}
        try:
            Contact.model_validate(entry)
        except ValidationError as e:
            for err in e.errors(include_url=False):
                col = _error_column(tuple(err["loc"]))
                problems.append(f"{ref(r, col)}: {err['msg']}")
            continue
        units[uid] = entry
    if problems:
        raise SheetError(CONTACT_SHEET, problems)
    return units

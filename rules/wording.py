"""What a fired action says: its title and body, in the words of a 催办, 督办, 督办通知, 责令整改 or 通报 listing."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.obligation import Obligation
from models.ruleset import ActionKind


def wording(
    kind: ActionKind, ob: Obligation, facts: dict[str, Any], due: date, level: int, rectify_due: date | None
) -> tuple[str, str]:
    spec, unit = ob.spec, ob.spec.unit_name
    when = f"{due:%Y年%m月%d日}"
    if kind is ActionKind.remind:
        if facts["state"] == "assigned" and facts["days_left"] > 0 and facts["days_since_assigned"]:
            lead = f"已交办{facts['days_since_assigned']}个工作日尚未签收，"
        else:
            lead = ""
        return (
            f"催办：{spec.title}",
            f"{unit}：{lead}“{spec.title}”应于{when}前完成，还有{facts['days_left']}个工作日，请抓紧办理并及时上报进展。",
        )
    state = f"（当前状态：{ob.state.value}，进度{ob.progress}%）"
    overdue, left = facts["days_overdue"], facts["days_left"]
    late = f"现已逾期{overdue}个工作日" if overdue else f"还有{left}个工作日到期"
    if kind is ActionKind.escalate:
        return (
            f"督办（{level}级）：{unit} {spec.title}",
            f"{unit}承担的“{spec.title}”应于{when}前完成，{late}{state}，请督促落实。",
        )
    if kind is ActionKind.notice:
        return (f"督办通知：{unit} {spec.title}", f"{unit}承担的“{spec.title}”应于{when}前完成，{late}{state}。")
    if kind is ActionKind.rectify:
        return (
            f"责令整改：{unit} {spec.title}",
            f"{unit}承担的“{spec.title}”{late}{state}，责令于{rectify_due:%Y年%m月%d日}前整改到位并书面报告。",
        )
    return (f"列入通报：{unit} {spec.title}", f"{unit}承担的“{spec.title}”{late}{state}，将在月度通报中列出。")

"""The 台账: one workbook row per obligation, header frozen and filterable."""

from __future__ import annotations

from activities.documents import as_xlsx
from activities.documents.files import RenderedFile, rendered, stamp, stem
from activities.documents.layout import COLOUR_RGB, STATE_LABELS
from models.documents import Ledger

COLUMNS = (
    ("编号", 34),
    ("责任单位", 16),
    ("任务序号", 9),
    ("任务", 40),
    ("牵头单位", 16),
    ("截止日期", 12),
    ("状态", 12),
    ("进度%", 8),
    ("进展情况", 40),
    ("催办次数", 9),
    ("督办层级", 9),
    ("逾期工作日", 11),
    ("评定", 6),
)


def render_ledger_xlsx(ledger: Ledger) -> RenderedFile:
    """The ledger as XLSX, named CAMPAIGN-ledger-YYYY-MM-DD; dated by its as-of date."""
    sheet = as_xlsx.Sheet(
        name="台账",
        columns=COLUMNS,
        rows=tuple(
            (
                r.obligation_id,
                r.unit_name,
                r.task_no,
                r.title,
                r.lead,
                r.due,
                STATE_LABELS[r.state],
                r.progress,
                r.progress_text or "",
                r.reminders,
                r.escalation_level,
                r.overdue_working_days,
                r.colour.label,
            )
            for r in ledger.rows
        ),
        fills=tuple(COLOUR_RGB[r.colour] for r in ledger.rows),
        fill_column=len(COLUMNS) - 1,
    )
    data = as_xlsx.render(
        [sheet],
        title=f"{ledger.campaign_title}任务台账（截至{ledger.as_of.isoformat()}）",
        author=ledger.issuer or "duban",
        when=stamp(ledger.as_of),
    )
    return rendered(stem(ledger.campaign_id, "ledger", ledger.as_of.isoformat()), "xlsx", data)

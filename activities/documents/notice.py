"""督办通知: a numbered notice to one unit about its overdue obligations, coloured by severity."""

from __future__ import annotations

from activities.documents.files import RenderedSet, stem
from activities.documents.fonts import CjkFont
from activities.documents.layout import (
    SEVERITY_RGB,
    STATE_LABELS,
    Align,
    Block,
    Document,
    Style,
    Table,
    Text,
    blank,
    body,
    closing,
    cn_date,
    version_head,
)
from activities.documents.render import document_set
from models.documents import OverdueItem, SupervisionNotice

ITEM_COLUMNS = ("序号", "任务", "截止日期", "逾期工作日", "状态", "进度", "督办次数")


def render_notice(notice: SupervisionNotice, *, font: CjkFont | None = None) -> RenderedSet:
    """The notice as DOCX and PDF ("docx", "pdf"), named CAMPAIGN-notice-YEAR-NNN."""
    return document_set(layout(notice), font)


def layout(notice: SupervisionNotice) -> Document:
    badge = Text(f"【{notice.severity.label}】", Style.badge, Align.left, SEVERITY_RGB[notice.severity])
    blocks: list[Block] = [
        *version_head(notice.issuer, notice.code, badge=badge),
        Text(notice.title, Style.doc_title, Align.centre),
        blank(),
        Text(f"{notice.addressee}：", Style.plain, Align.left),
        *body(*notice.body),
        Text(f"逾期未办结任务清单（共{len(notice.items)}项）", Style.note, Align.centre),
        items_table(notice.items),
        *body(
            f"请于{cn_date(notice.reply_by)}前将整改落实情况书面报送{notice.issuer}。"
            "逾期仍未办结的，将按程序提请升级督办并在月度通报中予以通报。"
        ),
        *closing(notice.issuer, notice.issued, notice.copy_to),
    ]
    return Document(
        stem=stem(notice.campaign_id, "notice", notice.year, f"{notice.number:03d}"),
        title=f"{notice.title}（{notice.code}）",
        author=notice.issuer,
        issued=notice.issued,
        blocks=tuple(blocks),
    )


def items_table(items: tuple[OverdueItem, ...]) -> Table:
    rows = tuple(
        (
            str(n),
            i.title,
            i.due.isoformat(),
            str(i.overdue_working_days),
            STATE_LABELS[i.state],
            f"{i.progress}%",
            str(i.escalations),
        )
        for n, i in enumerate(items, start=1)
    )
    return Table(ITEM_COLUMNS, rows, flex=1)

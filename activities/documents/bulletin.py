"""The monthly 通报: every unit's progress and rank, 表扬, 通报批评, 责令整改."""

from __future__ import annotations

from activities.documents.files import RenderedSet, stem
from activities.documents.fonts import CjkFont
from activities.documents.layout import (
    KIND_LABELS,
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
    names,
    percent,
    section,
    version_head,
)
from activities.documents.render import document_set
from models.documents import Bulletin, RectificationEntry

UNIT_COLUMNS = (
    "排名",
    "单位",
    "类型",
    "任务数",
    "已办结",
    "按期办结",
    "逾期办结",
    "逾期未办结",
    "序时进度",
    "平均进度",
    "评定",
)
UNIT_POINTS = 9  # 小五: eleven columns across the page
ORDER_COLUMNS = ("序号", "单位", "通报月份", "逾期任务数", "整改期限", "状态")


def render_bulletin(bulletin: Bulletin, *, font: CjkFont | None = None) -> RenderedSet:
    """The bulletin as DOCX and PDF ("docx", "pdf"), named CAMPAIGN-bulletin-YYYY-MM."""
    return document_set(layout(bulletin), font)


def title(b: Bulletin) -> str:
    return f"关于{b.month_label}{b.campaign_title}工作进展情况的通报"


def layout(b: Bulletin) -> Document:
    blocks: list[Block] = [
        *version_head(b.issuer, b.code),
        Text(title(b), Style.doc_title, Align.centre),
        blank(),
        Text("各镇（场、景区），县直有关单位：", Style.plain, Align.left),
        *body(*b.body, summary(b)),
        section(1, "各单位进展情况"),
        units_table(b),
        section(2, "表扬"),
        *body(f"{names(b.commended)}本月任务全部按期推进，无逾期事项，予以表扬。" if b.commended else "本月无。"),
        section(3, "通报批评"),
        *body(f"{names(b.criticised)}逾期未办结任务较多，评定为红色，予以通报批评。" if b.criticised else "本月无。"),
        section(4, "责令整改"),
        *orders(b),
        *body("特此通报。"),  # the text's last line: the 署名 never stands on a page of its own
        *closing(b.issuer, b.issued, b.copy_to),
    ]
    return Document(
        stem=stem(b.campaign_id, "bulletin", f"{b.month:%Y-%m}"),
        title=title(b),
        author=b.issuer,
        issued=b.issued,
        blocks=tuple(blocks),
    )


def summary(b: Bulletin) -> str:
    total = sum(r.total for r in b.rows)
    done = sum(r.done for r in b.rows)
    on_time = sum(r.on_time for r in b.rows)
    late = sum(r.late for r in b.rows)
    overdue = sum(r.overdue for r in b.rows)
    return (
        f"截至{cn_date(b.as_of)}，{len(b.rows)}个责任单位共承担任务{total}项，已办结{done}项"
        f"（其中按期办结{on_time}项、逾期办结{late}项），逾期未办结{overdue}项。现将有关情况通报如下。"
    )


def units_table(b: Bulletin) -> Table:
    rows = tuple(
        (
            str(r.rank),
            r.unit_name,
            KIND_LABELS[r.kind],
            str(r.total),
            str(r.done),
            str(r.on_time),
            str(r.late),
            str(r.overdue),
            percent(r.expected_progress),
            percent(r.actual_progress),
            r.colour.label,
        )
        for r in sorted(b.rows, key=lambda r: (r.rank, r.unit_id))
    )
    return Table(UNIT_COLUMNS, rows, points=UNIT_POINTS, flex=1)


def how_many(entries: tuple[RectificationEntry, ...]) -> tuple[int, str]:
    """How many units, and （共N份） when a unit has more than one order: units are counted as
    units (a county of 35 units never has 127 of them behind), orders as 份."""
    units = len({e.unit_name for e in entries})
    return units, "" if units == len(entries) else f"（共{len(entries)}份）"


def orders(b: Bulletin) -> list[Block]:
    out: list[Block] = []
    if b.orders_issued:
        out += [
            *body("对以下{}个单位责令整改{}，请于整改期限前整改到位并书面报告：".format(*how_many(b.orders_issued))),
            orders_table(b.orders_issued),
        ]
    else:
        out += body("本月无新增责令整改。")
    if b.orders_unresolved:
        out += [
            *body("前期责令整改尚未整改到位的有{}个单位{}，继续跟踪督办：".format(*how_many(b.orders_unresolved))),
            orders_table(b.orders_unresolved),
        ]
    return out


def orders_table(entries: tuple[RectificationEntry, ...]) -> Table:
    rows = tuple(
        (str(n), e.unit_name, f"{e.month.year}年{e.month.month}月", str(e.overdue), e.due.isoformat(), e.state.label)
        for n, e in enumerate(entries, start=1)
    )
    return Table(ORDER_COLUMNS, rows, flex=1)

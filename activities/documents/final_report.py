"""The 总结评价 report (issue 7): ranking with score parts, 基础型/示范型, laggards, 楚天杯, 长效管理."""

from __future__ import annotations

from activities.documents import as_xlsx
from activities.documents.files import RenderedFile, RenderedSet, rendered, stamp, stem
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
    section,
    version_head,
)
from activities.documents.render import document_set
from models.documents import FinalReport, TownScore

CARRIED_COLUMNS = ("序号", "事项", "责任单位", "长效机制", "复查日期")


def render_final_report(report: FinalReport, *, font: CjkFont | None = None) -> RenderedSet:
    """The report as DOCX, PDF and XLSX ("docx", "pdf", "xlsx"), named CAMPAIGN-final-report."""
    doc = layout(report)
    return document_set(doc, font, workbook(report, doc.stem))


def ranked(report: FinalReport) -> list[TownScore]:
    return sorted(report.towns, key=lambda t: (t.rank, t.unit_id))


def yes(flag: bool) -> str:
    return "达标" if flag else "未达标"


def layout(report: FinalReport) -> Document:
    basic = tuple(t.unit_name for t in ranked(report) if t.basic_met)
    model = tuple(t.unit_name for t in ranked(report) if t.model_met)
    blocks: list[Block] = [
        *version_head(report.issuer, None),
        Text(report.title, Style.doc_title, Align.centre),
        blank(),
        *body(
            *report.summary,
            f"评价期间：{cn_date(report.period_start)}至{cn_date(report.period_end)}，"
            f"共评价{len(report.towns)}个镇（场、景区）。",
        ),
        section(1, "综合排名"),
        ranking_table(report),
        section(2, "达标情况"),
        *body(
            f"达到基础型标准的{len(basic)}个：{names(basic) or '无'}。",
            f"达到示范型标准的{len(model)}个：{names(model) or '无'}。",
        ),
        section(3, "后进单位"),
        *body(f"{names(report.laggards)}综合得分靠后，予以通报，限期整改。" if report.laggards else "无。"),
        section(4, "推荐“楚天杯”"),
        *body(
            f"推荐{names(report.commendation)}参评“楚天杯”。"
            if report.commendation
            else "本次不推荐参评“楚天杯”的单位。"
        ),
        *body(
            *(
                [f"推荐以下{len(report.people)}名同志参评“楚天杯”先进个人：", *report.people]
                if report.people
                else ["本次不推荐参评“楚天杯”的个人。"]
            )
        ),
        section(5, "纳入长效管理事项"),
        *carried(report),
        *body("特此报告。"),  # the text's last line: the 署名 never stands on a page of its own
        *closing(report.issuer, report.issued, report.copy_to),
    ]
    return Document(
        stem=stem(report.campaign_id, "final-report"),
        title=report.title,
        author=report.issuer,
        issued=report.issued,
        blocks=tuple(blocks),
    )


def part_header(report: FinalReport) -> tuple[str, ...]:
    weights = {p.name: p.weight for p in report.towns[0].parts}
    return tuple(f"{n}({weights[n] * 100:g}%)" for n in report.part_names)


def ranking_table(report: FinalReport) -> Table:
    parts = part_header(report)
    rows = tuple(
        (
            str(t.rank),
            t.unit_name,
            *(f"{p.score:.1f}" for p in t.parts),
            f"{t.composite:.2f}",
            yes(t.basic_met),
            yes(t.model_met),
        )
        for t in ranked(report)
    )
    header = ("排名", "单位", *parts, "综合得分", "基础型", "示范型")
    return Table(header, rows, flex=1)


def carried(report: FinalReport) -> list[Block]:
    if not report.carried:
        return list(body("无。"))
    rows = tuple(
        (str(n), c.title, c.owner, c.mechanism, c.review.isoformat() if c.review else "")
        for n, c in enumerate(report.carried, start=1)
    )
    return [
        *body(f"以下{len(report.carried)}项工作转入长效管理，由责任单位常态化推进："),
        Table(CARRIED_COLUMNS, rows, flex=3),
    ]


def workbook(report: FinalReport, file_stem: str) -> RenderedFile:
    commended = set(report.commendation)
    lagging = set(report.laggards)
    ranking = as_xlsx.Sheet(
        name="综合排名",
        columns=(
            ("排名", 6),
            ("单位", 16),
            ("类型", 8),
            *((h, 14) for h in part_header(report)),
            ("综合得分", 10),
            ("基础型", 8),
            ("示范型", 8),
            ("楚天杯推荐", 10),
            ("后进", 6),
        ),
        rows=tuple(
            (
                t.rank,
                t.unit_name,
                KIND_LABELS[t.kind],
                *(p.score for p in t.parts),
                t.composite,
                yes(t.basic_met),
                yes(t.model_met),
                "是" if t.unit_name in commended else "",
                "是" if t.unit_name in lagging else "",
            )
            for t in ranked(report)
        ),
    )
    long_term = as_xlsx.Sheet(
        name="长效管理",
        columns=(("序号", 6), ("事项", 36), ("责任单位", 16), ("长效机制", 40), ("复查日期", 12)),
        rows=tuple((n, c.title, c.owner, c.mechanism, c.review) for n, c in enumerate(report.carried, start=1)),
    )
    data = as_xlsx.render([ranking, long_term], title=report.title, author=report.issuer, when=stamp(report.issued))
    return rendered(file_stem, "xlsx", data)

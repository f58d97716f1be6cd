"""The papers in 公文 form (GB/T 9704-2012) and Chinese typesetting: 版头 order, 版记, 署名 with
its date, 禁则 line breaking, unsplit numbers in narrow cells, nested quotes, bulletin figures."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from documents_support import OFFICE, bulletin, notice
from pydantic import ValidationError

from activities.documents import render_bulletin, render_notice
from activities.documents.as_docx import TEXT_WIDTH_PT, measure
from activities.documents.layout import POINTS, Document, Signature, Style, Table, Text, closing, organ_name
from activities.documents.render import document_set
from activities.documents.typeset import NO_LINE_END, NO_LINE_START, nest_quotes, units, wrap
from models.documents import Bulletin, OrderState, RectificationEntry, bulletin_code

LONG_ISSUER = "县“擦亮小城镇”建设美丽城镇联席会议办公室（县住建局）"
"""The 随县 office as its unit directory names it: 27 characters, wider than a line less 2 characters."""


def _pdf_pages(data: bytes) -> list[list[str]]:
    """Each page's text lines, as pypdf extracts them (one per printed line)."""
    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(data)).pages
    return [[ln.strip() for ln in p.extract_text().splitlines() if ln.strip()] for p in pages]


def qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return str(qn(tag))


def _docx(data: bytes) -> Any:
    import docx

    return docx.Document(io.BytesIO(data))


# -- 版头 and 版记 -----------------------------------------------------------------------------------


def test_the_version_head_reads_organ_number_rule_title_in_that_order() -> None:
    files = render_notice(notice())
    d = _docx(files["docx"].data)
    paragraphs = d.paragraphs
    at = {p.text: n for n, p in enumerate(paragraphs) if p.text}
    red = [n for n, p in enumerate(paragraphs) if 'w:color="C00000"' in p._p.xml and "w:pBdr" in p._p.xml]
    assert len(red) == 1
    assert at["【红色督办】"] < at[f"{OFFICE}文件"] < at["随擦亮督〔2022〕3号"] < red[0] < at[notice().title]
    mark = paragraphs[at[f"{OFFICE}文件"]].runs[0]
    assert mark.font.color.rgb is not None and str(mark.font.color.rgb) == "C00000"
    assert mark.font.size.pt > POINTS[Style.doc_title]  # the 标志 is the largest type on the page
    (first, *_) = _pdf_pages(files["pdf"].data)
    order = [next(i for i, ln in enumerate(first) if want in ln) for want in ("文件", "〔2022〕3号", "关于督促办理")]
    assert order == sorted(order)


def test_a_long_organ_name_is_narrowed_onto_one_line_not_wrapped() -> None:
    files = render_notice(notice().model_copy(update={"issuer": LONG_ISSUER}))
    mark = f"{organ_name(LONG_ISSUER)}文件"
    assert mark == "县“擦亮小城镇”建设美丽城镇联席会议办公室文件"  # the directory's note of the host left out
    (first, *_) = _pdf_pages(files["pdf"].data)
    assert mark in first  # on one line
    run = next(p.runs[0] for p in _docx(files["docx"].data).paragraphs if p.text == mark)
    scale = int(
        run._r.rPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}w").get(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val"
        )
    )
    assert 40 <= scale < 100
    assert measure(mark) * POINTS[Style.organ] * scale / 100 <= TEXT_WIDTH_PT


def test_the_imprint_closes_the_last_page_with_copies_and_the_printing_organ() -> None:
    n = notice().model_copy(update={"copy_to": ("县住建局", "县市场监管局", "分管副县长（联席会议召集人）")})
    pages = _pdf_pages(render_notice(n)["pdf"].data)
    last = pages[-1]
    copies = next(i for i, ln in enumerate(last) if ln.startswith("抄送："))
    printed = next(i for i, ln in enumerate(last) if ln.endswith("2022年1月18日印发"))
    assert copies < printed and last[printed].startswith(OFFICE)
    assert "".join(last[copies:printed]) == "抄送：县住建局、县市场监管局、分管副县长（联席会议召集人）。"
    assert last[printed + 1 :] == ["— 2 —"] or last[printed + 1 :] == [f"— {len(pages)} —"]  # nothing after


def test_the_printed_line_fits_in_smaller_type_when_the_office_name_is_long() -> None:
    (_, imprint) = closing(LONG_ISSUER, date(2021, 6, 3), ("分管副县长",))
    assert imprint.printer == "县“擦亮小城镇”建设美丽城镇联席会议办公室"
    assert 10.5 <= imprint.points < POINTS[Style.note]
    d = _docx(render_notice(notice().model_copy(update={"issuer": LONG_ISSUER}))["docx"].data)
    assert d.paragraphs[-2].text == f"{imprint.printer}\t2022年1月18日印发"


# -- 署名 and 成文日期 -------------------------------------------------------------------------------


def test_signature_and_date_share_a_page_however_long_the_text() -> None:
    """Bodies of 1 to 16 paragraphs walk the signature down every position of the page, across
    the page break: the date is never alone on the next page, the 署名 never wraps."""
    paragraph = "经核查，你单位承担的任务已超过完成时限仍未办结，请高度重视，明确专人负责，倒排工期，确保整改到位。"
    for n in range(1, 17):
        note = notice().model_copy(update={"issuer": LONG_ISSUER, "body": (paragraph,) * n})
        pages = _pdf_pages(render_notice(note)["pdf"].data)
        where = [i for i, page in enumerate(pages) if "2022年1月18日" in page]
        assert where, n
        page = pages[where[0]]
        assert LONG_ISSUER in page, (n, page)
        assert page.index(LONG_ISSUER) + 1 == page.index("2022年1月18日"), (n, page)
        body_lines = page[: page.index(LONG_ISSUER)]
        assert any("逾期仍未办结的" in ln or "通报。" in ln for ln in body_lines), (n, page)  # never alone


def test_the_signature_fits_one_line_and_is_kept_with_its_date_in_docx() -> None:
    d = _docx(render_notice(notice().model_copy(update={"issuer": LONG_ISSUER}))["docx"].data)
    at = next(n for n, p in enumerate(d.paragraphs) if p.text == LONG_ISSUER)
    issuer, when = d.paragraphs[at], d.paragraphs[at + 1]
    assert when.text == "2022年1月18日"
    points = POINTS[Style.plain]
    scale = issuer.runs[0]._r.rPr.find(qn("w:w"))
    narrowed = int(scale.get(qn("w:val"))) / 100 if scale is not None else 1.0
    right = issuer.paragraph_format.right_indent.pt if issuer.paragraph_format.right_indent else 0.0
    assert right + measure(LONG_ISSUER) * points * narrowed <= TEXT_WIDTH_PT + 0.01
    assert d.paragraphs[at - 1].paragraph_format.keep_with_next  # the blank line above
    assert issuer.paragraph_format.keep_with_next and when.paragraph_format.keep_with_next  # and the 版记
    assert d.paragraphs[at - 2].paragraph_format.keep_with_next  # the last paragraph of the text


def test_the_date_starts_two_characters_right_of_the_signature() -> None:
    """GB/T 9704 7.3.5.2 (no seal): 署名 two characters in from the right, the date's first
    character two right of the 署名's; a date longer than the 署名 sits two in from the right."""
    em = 1.0
    right, date_right = Signature("县美丽城镇建设联席会议办公室", date(2021, 12, 6)).right_indents(28, len, em)
    assert (right, date_right) == (2, 4)  # 署名 from column 12, the date from 14
    right, date_right = Signature("城建办", date(2021, 12, 6)).right_indents(28, len, em)
    assert (right, date_right) == (11, 2)  # the date from column 16, the 署名 from 14
    right, date_right = Signature("长" * 30, date(2021, 12, 6)).right_indents(28, len, em)
    assert (right, date_right) == (0, 16)  # wider than the line: narrowed to it, the date two in


# -- 禁则 -----------------------------------------------------------------------------------------


def test_no_line_starts_with_closing_or_ends_with_opening_punctuation_in_the_pdf() -> None:
    """A long paragraph whose punctuation falls on every column of the line in turn."""
    words = ["任务", "（基础型）", "“擦亮小城镇”", "《实施方案》", "已完成89.6%", "2021-04-30", "整改", "！", "？"]
    text = "".join(f"{'甲' * (k % 7)}{words[k % len(words)]}，第{k}项。" for k in range(160))
    doc = Document(stem="t", title="禁则", author="t", issued=date(2022, 1, 1), blocks=(Text(text),))
    lines = [ln for page in _pdf_pages(document_set(doc)["pdf"].data) for ln in page if not ln.startswith("—")]
    assert len(lines) > 40
    assert not [ln for ln in lines if ln[0] in NO_LINE_START]
    assert not [ln for ln in lines if ln[-1] in NO_LINE_END]
    joined = "".join(lines)
    for unsplit in ("89.6%", "2021-04-30"):
        assert joined.count(unsplit) == sum(unsplit in ln for ln in lines)  # each on one line


def test_wrap_keeps_numbers_and_punctuation_with_their_neighbours() -> None:
    assert units("截至2021-04-30，完成89.6%。") == ["截", "至", "2021-04-30，", "完", "成", "89.6%。"]
    assert units("“擦亮”（一）") == ["“擦", "亮”", "（一）"]
    assert wrap("予以通报批评。现将有关情况通报如下", 6.5, len) == ["予以通报批", "评。现将有关", "情况通报如下"]
    assert wrap("完成率89.6%", 5, len) == ["完成率", "89.6%"]
    assert wrap("未达标", 2.5, len, cell=True) == ["未达", "标"]  # no room at all: it has to break
    assert wrap("未达标", 3.5, len, cell=True) == ["未达标"]


def test_dates_numbers_and_short_words_never_split_in_narrow_cells() -> None:
    rows = tuple(
        (str(n), "集镇污水管网改造及雨污分流" * 2, "2021-04-30", "89.6%", "未达标", "2021年12月") for n in range(1, 4)
    )
    table = Table(("序号", "任务", "截止日期", "完成率", "示范型", "通报月份"), rows, flex=1)
    doc = Document(stem="t", title="表", author="t", issued=date(2022, 1, 1), blocks=(table,))
    text = "\n".join(ln for page in _pdf_pages(document_set(doc)["pdf"].data) for ln in page)
    assert text.count("2021-04-30") == 3 and text.count("89.6%") == 3 and text.count("未达标") == 3
    assert text.count("2021年12月") == 3
    widths = table.column_widths(156, lambda t: measure(t) * 3.7, 2.6)
    assert widths[2] >= measure("2021-04-30") * 3.7 + 2.6 and widths[5] >= measure("2021年12月") * 3.7 + 2.6


# -- quotation marks -------------------------------------------------------------------------------


def test_quotes_nest_double_outside_single_inside() -> None:
    assert nest_quotes("“编制镇级“擦亮小城镇”工作方案”") == "“编制镇级‘擦亮小城镇’工作方案”"
    assert nest_quotes("“甲“乙“丙”乙”甲”") == "“甲‘乙“丙”乙’甲”"
    assert nest_quotes("《随县“擦亮小城镇”方案》") == "《随县“擦亮小城镇”方案》"
    body = ("你单位承担的“编制镇级“擦亮小城镇”工作方案”应于2021年4月30日前完成。",)
    files = render_notice(notice().model_copy(update={"body": body}))
    d = _docx(files["docx"].data)
    assert any("“编制镇级‘擦亮小城镇’工作方案”" in p.text for p in d.paragraphs)
    pdf = "".join(ln for page in _pdf_pages(files["pdf"].data) for ln in page)
    assert "“编制镇级‘擦亮小城镇’工作方案”" in pdf and "““" not in pdf


# -- the bulletin's figures ------------------------------------------------------------------------


def _order(unit: str, month: int, state: OrderState) -> RectificationEntry:
    return RectificationEntry(
        unit_name=unit, month=date(2021, month, 1), overdue=3, due=date(2021, month + 1, 20), state=state
    )


def test_the_bulletin_counts_units_as_units_and_prints_each_orders_real_state() -> None:
    unresolved = (
        _order("殷店镇", 9, OrderState.escalated),
        _order("殷店镇", 10, OrderState.sent_back),
        _order("殷店镇", 11, OrderState.open),
        _order("洪山镇", 10, OrderState.rejected),  # closed as not rectified: still not rectified
        _order("洪山镇", 11, OrderState.reported),
    )
    b = bulletin().model_copy(update={"orders_unresolved": unresolved})
    d = _docx(render_bulletin(b)["docx"].data)
    text = [p.text for p in d.paragraphs]
    assert any("前期责令整改尚未整改到位的有2个单位（共5份），继续跟踪督办" in t for t in text)
    assert any("对以下1个单位责令整改，" in t for t in text)
    states = [row.cells[-1].text for row in d.tables[2].rows[1:]]
    assert states == ["逾期未报告已升级", "退回重新整改", "整改中", "整改不到位", "已报告待审核"]
    with pytest.raises(ValidationError, match="must not be resolved"):
        Bulletin.model_validate(b.model_dump() | {"orders_unresolved": (_order("殷店镇", 9, OrderState.resolved),)})


def test_bulletins_are_numbered_per_year_of_issue_in_month_order() -> None:
    first = date(2021, 5, 1)
    codes = {m: bulletin_code("随擦亮督", first_month=first, month=date(y, m, 1)) for y, m in ((2021, 5), (2021, 11))}
    assert codes == {5: "随擦亮通〔2021〕1号", 11: "随擦亮通〔2021〕7号"}
    # December's bulletin is issued in January: the first of the new year
    assert bulletin_code("随擦亮督", first_month=first, month=date(2021, 12, 1)) == "随擦亮通〔2022〕1号"
    assert bulletin_code("随擦亮督", first_month=first, month=date(2022, 6, 1)) == "随擦亮通〔2022〕7号"
    assert bulletin_code("待填", first_month=first, month=date(2021, 6, 1)) == "待填〔2021〕2号"
    year_2022 = [
        bulletin_code("随擦亮督", first_month=first, month=date(2021 + (m > 12), (m - 1) % 12 + 1, 1))
        for m in range(12, 24)
    ]
    assert [int(re.sub(r".*〕(\d+)号", r"\1", c)) for c in year_2022] == list(range(1, 13))  # no gap, no repeat

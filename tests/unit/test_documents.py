"""The official documents, opened back as their readers would: python-docx, pypdf, openpyxl."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from documents_support import MALICIOUS, OFFICE, bulletin, final_report, ledger, notice
from pydantic import ValidationError

from activities.documents import (
    FontNotFound,
    RenderedFile,
    RenderedSet,
    fonts,
    render_bulletin,
    render_final_report,
    render_ledger_xlsx,
    render_notice,
)
from activities.documents.files import stamp
from activities.documents.layout import Table
from activities.documents.typeset import wrap
from models.documents import Bulletin, ScorePart, SupervisionNotice, TownScore, UnitRow
from models.plan import UnitKind


@pytest.fixture(scope="module")
def notice_files() -> RenderedSet:
    return render_notice(notice())


@pytest.fixture(scope="module")
def bulletin_files() -> RenderedSet:
    return render_bulletin(bulletin())


@pytest.fixture(scope="module")
def report_files() -> RenderedSet:
    return render_final_report(final_report())


def qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return str(qn(tag))


def _docx(f: RenderedFile) -> Any:
    import docx

    return docx.Document(io.BytesIO(f.data))


def _docx_lines(d: Any) -> list[str]:
    return [p.text for p in d.paragraphs if p.text]


def _table(t: Any) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in t.rows]


def _pdf_text(f: RenderedFile) -> str:
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(f.data)).pages)
    return "".join(text.split())  # lines wrap anywhere in Chinese: compare without them


def _xlsx(f: RenderedFile) -> Any:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(f.data))


# -- 督办通知 ---------------------------------------------------------------------------------------


def test_notice_docx_reads_as_an_official_notice(notice_files: RenderedSet) -> None:
    n = notice()
    d = _docx(notice_files["docx"])
    lines = _docx_lines(d)
    # 版头: the badge where 紧急程度 goes, 发文机关标志, 发文字号, (the red rule), then the title
    assert lines[:5] == ["【红色督办】", f"{OFFICE}文件", "随擦亮督〔2022〕3号", n.title, "殷店镇人民政府："]
    # 署名, 成文日期, then the 版记: 抄送, 印发机关 and 印发日期
    assert lines[-4:] == [OFFICE, "2022年1月18日", "抄送：县住建局、县市场监管局。", f"{OFFICE}\t2022年1月18日印发"]
    assert any("2022年1月28日前" in line for line in lines)  # the reply-by date
    right = {p.text: p.alignment for p in d.paragraphs}
    assert str(right[OFFICE]).startswith("RIGHT") and str(right["2022年1月18日"]).startswith("RIGHT")
    assert str(right[n.title]).startswith("CENTER") and str(right[f"{OFFICE}文件"]).startswith("CENTER")
    (table,) = d.tables
    rows = _table(table)
    assert rows[0] == ["序号", "任务", "截止日期", "逾期工作日", "状态", "进度", "督办次数"]
    assert rows[1:] == [
        ["1", "集镇污水管网改造及雨污分流", "2021-12-31", "12", "推进中", "60%", "2"],
        ["2", "农贸市场提档升级", "2021-12-31", "12", "已签收", "20%", "1"],
        ["3", "编制镇级“擦亮小城镇”工作方案", "2021-04-30", "160", "未签收", "0%", "3"],
    ]
    rules = [p._p.pPr for p in d.paragraphs if p._p.pPr is not None and p._p.pPr.find(qn("w:pBdr")) is not None]
    assert len(rules) == 4  # the red rule under the number, and the 版记's three
    for ppr in rules:  # the schema's order, or Word reports unreadable content
        tags = [c.tag for c in ppr]
        assert tags.index(qn("w:pBdr")) < tags.index(qn("w:spacing"))
    colours = [ppr.find(qn("w:pBdr"))[0].get(qn("w:color")) for ppr in rules]
    assert colours == ["C00000", "000000", "000000", "000000"]
    props = d.core_properties
    assert props.author == OFFICE and props.created == props.modified == datetime(2022, 1, 18, 1, 0, tzinfo=UTC)


def test_notice_pdf_text_extracts_in_chinese(notice_files: RenderedSet) -> None:
    text = _pdf_text(notice_files["pdf"])
    for expected in ("随擦亮督〔2022〕3号", "殷店镇人民政府：", "编制镇级“擦亮小城镇”工作方案", "红色督办", OFFICE):
        assert expected in text
    assert "抄送：县住建局、县市场监管局。" in text and "2022年1月18日印发" in text


def test_notice_pdf_embeds_a_subset_font_with_a_unicode_map(notice_files: RenderedSet) -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(notice_files["pdf"].data))
    assert reader.metadata is not None and reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.date() == date(2022, 1, 18)
    page_fonts = reader.pages[0]["/Resources"]["/Font"]
    (font,) = {page_fonts[k].get_object()["/BaseFont"]: page_fonts[k].get_object() for k in page_fonts}.values()
    assert "+" in font["/BaseFont"]  # a subset tag: the font is not embedded whole
    assert "/ToUnicode" in font
    assert len(notice_files["pdf"].data) < 200_000


def test_notice_files_are_named_by_number_and_checksummed(notice_files: RenderedSet) -> None:
    assert set(notice_files) == {"docx", "pdf"}
    assert notice_files["docx"].name == "suixian-2021-notice-2022-003.docx"
    assert notice_files["pdf"].name == "suixian-2021-notice-2022-003.pdf"
    assert notice_files["pdf"].media_type == "application/pdf"
    assert len(notice_files["pdf"].sha256) == 64


# -- 通报 and 台账 ----------------------------------------------------------------------------------


def test_bulletin_docx_ranks_units_and_names_commended_and_criticised(bulletin_files: RenderedSet) -> None:
    d = _docx(bulletin_files["docx"])
    lines = _docx_lines(d)
    assert lines[:3] == [
        f"{OFFICE}文件",
        "随擦亮通〔2022〕1号",
        "关于2021年12月“擦亮小城镇”建设美丽城镇行动工作进展情况的通报",
    ]
    summary = next(line for line in lines if line.startswith("截至"))
    assert "共承担任务40项，已办结33项（其中按期办结30项、逾期办结3项），逾期未办结5项" in summary
    assert any(line.startswith("洪山镇") and "表扬" in line for line in lines)
    assert any(line.startswith("殷店镇") and "通报批评" in line for line in lines)
    units, issued, unresolved = (_table(t) for t in d.tables)
    assert units[0][-3:] == ["序时进度", "平均进度", "评定"]
    assert [r[:2] for r in units[1:]] == [["1", "洪山镇"], ["2", "殷店镇"]]  # by rank, not input order
    assert units[2][3:] == ["20", "14", "11", "3", "5", "62.5%", "48.3%", "红"]
    assert issued[1] == ["1", "殷店镇", "2021年12月", "5", "2022-01-20", "整改中"]
    assert unresolved[1][2] == "2021年11月"
    assert lines[-2:] == ["抄送：县委办、县政府办。", f"{OFFICE}\t2022年1月6日印发"]


def test_bulletin_pdf_text(bulletin_files: RenderedSet) -> None:
    text = _pdf_text(bulletin_files["pdf"])
    for expected in ("随擦亮通〔2022〕1号", "洪山镇", "殷店镇", "逾期未办结", "62.5%", "48.3%", "2021年11月"):
        assert expected in text


def test_ledger_has_one_filterable_row_per_obligation_and_no_formulas() -> None:
    f = render_ledger_xlsx(ledger())
    assert f.name == "suixian-2021-ledger-2021-12-31.xlsx"
    ws = _xlsx(f)["台账"]
    header = [c.value for c in ws[1]]
    assert header == [
        "编号",
        "责任单位",
        "任务序号",
        "任务",
        "牵头单位",
        "截止日期",
        "状态",
        "进度%",
        "进展情况",
        "催办次数",
        "督办层级",
        "逾期工作日",
        "评定",
    ]
    assert ws.max_row == 1 + len(ledger().rows)
    assert ws.auto_filter.ref == "A1:M5"
    assert ws.parent.properties.modified == ws.parent.properties.created == stamp(date(2021, 12, 31))
    assert ws.freeze_panes == "A2"
    ids = [ws.cell(row=r, column=1).value for r in range(2, ws.max_row + 1)]
    assert ids == [r.obligation_id for r in ledger().rows]
    evil = ws["I2"]
    assert evil.value == MALICIOUS and evil.data_type == "s"  # text, not a formula
    assert ws["I5"].value == "-已验收" and ws["I5"].data_type == "s"
    assert ws["F2"].value == datetime(2021, 12, 31) and ws["F2"].number_format == "yyyy-mm-dd"
    assert ws["H2"].value == 60 and ws["C4"].value is None
    assert ws["M2"].value == "红" and ws["M2"].fill.fgColor.rgb.endswith("FFC7CE")
    with zipfile.ZipFile(io.BytesIO(f.data)) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "HYPERLINK" in sheet_xml


# -- 总结评价 ---------------------------------------------------------------------------------------


def test_final_report_docx_pdf_and_xlsx(report_files: RenderedSet) -> None:
    assert set(report_files) == {"docx", "pdf", "xlsx"}
    d = _docx(report_files["docx"])
    lines = _docx_lines(d)
    assert lines[:2] == [f"{OFFICE}文件", final_report().title]
    assert "达到基础型标准的2个：洪山镇、殷店镇。" in lines
    assert "达到示范型标准的1个：洪山镇。" in lines
    assert "推荐洪山镇参评“楚天杯”。" in lines
    ranking, carried = (_table(t) for t in d.tables)
    assert ranking[0] == [
        "排名",
        "单位",
        "日常督导(30%)",
        "拉练检查(30%)",
        "年度总评(40%)",
        "综合得分",
        "基础型",
        "示范型",
    ]
    assert ranking[1] == ["1", "洪山镇", "95.0", "92.0", "96.0", "94.50", "达标", "达标"]
    assert ranking[2][5:] == ["69.50", "达标", "未达标"]  # 0.3×70 + 0.3×65 + 0.4×72.5
    assert [r[1] for r in carried[1:]] == ["集镇环境卫生日常保洁", "农贸市场规范管理"]
    text = _pdf_text(report_files["pdf"])
    assert "楚天杯" in text and "长效管理" in text and "94.50" in text
    book = _xlsx(report_files["xlsx"])
    assert book.sheetnames == ["综合排名", "长效管理"]
    assert book.properties.modified == book.properties.created == datetime(2022, 12, 30, 1, 0)
    rows = list(book["综合排名"].iter_rows(values_only=True))
    assert rows[1] == (1, "洪山镇", "镇", 95, 92, 96, 94.5, "达标", "达标", "是", None)
    assert rows[2][-1] == "是"  # 殷店镇 is a laggard
    assert book["长效管理"].max_row == 3


# -- determinism ------------------------------------------------------------------------------------


def _files(r: RenderedSet | RenderedFile) -> dict[str, RenderedFile]:
    return {r.name: r} if isinstance(r, RenderedFile) else {f.name: f for f in r.values()}


@pytest.mark.parametrize("kind", ["notice", "bulletin", "ledger", "final report"])
def test_rendering_again_days_later_gives_the_same_bytes(
    kind: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders: dict[str, tuple[Callable[[], Any], str | None]] = {
        "notice": (lambda: render_notice(notice()), "notice_files"),
        "bulletin": (lambda: render_bulletin(bulletin()), "bulletin_files"),
        "ledger": (lambda: render_ledger_xlsx(ledger()), None),
        "final report": (lambda: render_final_report(final_report()), "report_files"),
    }
    render, fixture = renders[kind]
    first = _files(request.getfixturevalue(fixture) if fixture else render())
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3 * 86400 + 7)  # a retry, on another day
    second = _files(render())
    assert first.keys() == second.keys()
    for name, f in first.items():
        assert f.data == second[name].data, f"{kind}: {name} differs between renders"
        assert f.sha256 == second[name].sha256


def test_office_files_are_dated_by_the_plan_date(notice_files: RenderedSet) -> None:
    with zipfile.ZipFile(io.BytesIO(notice_files["docx"].data)) as z:
        assert {i.date_time for i in z.infolist()} == {(2022, 1, 18, 1, 0, 0)}
    assert stamp(date(2022, 1, 18)) == datetime(2022, 1, 18, 1, 0)  # 09:00 in Asia/Shanghai


# -- fonts and layout -------------------------------------------------------------------------------


def test_no_cjk_font_is_a_clear_error_naming_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_a_font = tmp_path / "x.ttf"
    not_a_font.write_bytes(b"not a font")
    monkeypatch.setattr(fonts, "KNOWN", ())
    monkeypatch.setattr(fonts, "_fontconfig", lambda: [])
    monkeypatch.setenv(fonts.ENV, str(not_a_font))
    fonts._installed.cache_clear()
    try:
        with pytest.raises(FontNotFound, match="fonts-wqy-zenhei"):
            render_notice(notice())
    finally:
        fonts._installed.cache_clear()


def test_a_character_no_font_has_is_an_error_not_a_silent_gap() -> None:
    odd = notice().model_copy(update={"addressee": "ༀ殷店镇人民政府"})  # U+0F00, Tibetan: no CJK font has it
    with pytest.raises(FontNotFound, match="ༀ"):
        render_notice(odd)


def test_closing_punctuation_never_starts_a_line() -> None:
    lines = wrap("予以通报批评。现将有关情况通报如下", 6.5, len)
    assert lines == ["予以通报批", "评。现将有关", "情况通报如下"]
    assert all(line[0] not in "，。、；：" for line in wrap("甲乙丙丁戊，己庚辛壬癸。子丑寅卯", 5, len))


def test_no_column_is_squeezed_below_one_character() -> None:
    """A table too wide for the page shrinks its columns, but never one below its widest
    character: fpdf2 cannot wrap such a column and loops for ever (a long 长效管理 item did)."""
    long = "县“擦亮小城镇”建设美丽城镇联席会议办公室（县住建局）" * 3
    table = Table(("序号", "事项", "责任单位"), (("1", long, long), ("2", long, "县住建局")), flex=1)
    widths = table.column_widths(60.0, len, 2.0)
    assert sum(widths) == pytest.approx(60.0)
    assert min(widths) >= 1 + 2.0
    final = final_report()
    wide = final.model_copy(update={"carried": (final.carried[0].model_copy(update={"owner": long}),) * 3})
    started = time.monotonic()
    assert render_final_report(wide)["pdf"].data[:5] == b"%PDF-"
    assert time.monotonic() - started < 30


# -- what the models refuse -------------------------------------------------------------------------


def test_a_notice_number_must_be_of_its_issue_year() -> None:
    with pytest.raises(ValidationError, match="issue year 2022"):
        SupervisionNotice.model_validate(notice().model_dump() | {"code": "随擦亮督〔2021〕3号"})
    with pytest.raises(ValidationError, match="前缀〔年份〕序号号"):
        SupervisionNotice.model_validate(notice().model_dump() | {"code": "随擦亮督2022-3"})
    with pytest.raises(ValidationError, match="not after the issue date"):
        SupervisionNotice.model_validate(notice().model_dump() | {"reply_by": date(2022, 1, 18)})


def test_bulletin_counts_must_add_up() -> None:
    row = bulletin().rows[0].model_dump()
    with pytest.raises(ValidationError, match="on time 11 \\+ late 2 ≠ done 14"):
        UnitRow.model_validate(row | {"late": 2})
    with pytest.raises(ValidationError, match="done 14 \\+ overdue 7 > total 20"):
        UnitRow.model_validate(row | {"overdue": 7})
    with pytest.raises(ValidationError, match="'均川镇' is named but not among"):
        Bulletin.model_validate(bulletin().model_dump() | {"commended": ("均川镇",)})


def test_score_weights_must_add_up_to_one() -> None:
    with pytest.raises(ValidationError, match=r"weights add up to 0\.9,"):
        TownScore(
            unit_id="hongshan",
            unit_name="洪山镇",
            kind=UnitKind.town,
            parts=(ScorePart(name="日常督导", weight=0.5, score=90), ScorePart(name="年度总评", weight=0.4, score=80)),
            rank=1,
            basic_met=True,
            model_met=False,
        )

"""Hostile input to the plan readers of `duban plan import`: a 实施方案's text (and DOCX), and the
任务分解表 / 单位目录 / 联系方式 sheets' cells. Each either reads or is refused at its line or
cell (ImportError_ / SheetError / SourceError): never a traceback."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.plan import UnitDirectory
from rules.contact_sheets import CONTACT_HEADER, read_contact_rows
from rules.loading import SourceError, parse_directory, parse_plan
from rules.plan_import import ImportError_, draft_plan
from rules.plan_sheets import TASK_HEADER, UNIT_HEADER, SheetError, read_task_rows, read_unit_rows
from rules.score_import import Cell
from services.errors import Invalid
from services.plan_import import docx_text, draft_yaml
from services.plans import load_plan

ROOT = Path(__file__).resolve().parents[2]
SEED = (ROOT / "tests" / "fixtures" / "suixian-2021-plan.txt").read_text(encoding="utf-8")
DIRECTORY_PATH = ROOT / "plans" / "units" / "suixian.yaml"
DIRECTORY: UnitDirectory = parse_directory(DIRECTORY_PATH.read_text(encoding="utf-8"), path="u.yaml")
PLAN = load_plan(ROOT / "plans" / "suixian-2021.yaml")
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
_PLANISH = (
    "一二三四五（）()、．.。：；牵头单位责任单位年月日底前—－到“”型1234567890\n 各镇、场、景区人民政府或管委会县住建局"
)


def _draft(text: str) -> None:
    try:
        data = draft_plan(text, directory=DIRECTORY, directory_ref="units/suixian.yaml", plan_id="fuzz")
    except ImportError_ as e:
        assert e.line >= 1
        return
    try:  # whatever is drafted is a plan file the loader reads or refuses at a line
        parse_plan(draft_yaml(data, source="fuzz"), path="d.yaml", directory=DIRECTORY)
    except SourceError as e:
        assert e.line >= 1


@FAST
@given(st.text(alphabet=_PLANISH, max_size=600))
def test_plan_shaped_text(text: str) -> None:
    _draft(text)


@pytest.mark.parametrize(
    "odd",
    ["到2021年13月底，达到“基础型”", "（一）积极谋划（2021年0月底前）", "随县  2021年2月30日印", "到0000年，“一般型”"],
)
def test_dates_that_are_not_dates(odd: str) -> None:
    _draft(SEED.replace("三、实施步骤", "三、实施步骤\n" + odd).replace("到2021年底", odd, 1) + "\n" + odd)


@FAST
@given(st.data())
def test_the_seed_with_lines_dropped_swapped_or_cut(data: st.DataObject) -> None:
    lines = SEED.splitlines()
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "cut", "dup", "junk"]))
        if op == "drop":
            del lines[i]
        elif op == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]) - 1)))]
        elif op == "dup":
            lines.insert(i, lines[data.draw(st.integers(0, len(lines) - 1))])
        else:
            lines[i] = data.draw(st.text(alphabet=_PLANISH, max_size=40))
        if not lines:
            break
    _draft("\n".join(lines))


_cells = st.one_of(
    st.none(),
    st.integers(-5, 30),
    st.floats(allow_nan=True),
    st.booleans(),
    st.dates(min_value=date(1990, 1, 1)),
    st.text(max_size=12),
    st.sampled_from(
        ["县住建局", "县教育局局", "待填：", "各镇、场、景区人民政府或管委会", "补齐规划设计短板", "town", "是"]
    ),
).map(lambda v: Cell(v))


def _sheet(header: list[str], data: st.DataObject) -> list[list[Cell]]:
    rows = data.draw(st.lists(st.lists(_cells, max_size=len(header) + 1), max_size=6))
    return [[Cell(h) for h in header], *rows] if data.draw(st.booleans()) or not rows else rows


@FAST
@given(st.data())
def test_sheet_cells(data: st.DataObject) -> None:
    for read in (
        lambda: read_task_rows(_sheet(TASK_HEADER, data), PLAN),
        lambda: read_unit_rows(_sheet(UNIT_HEADER, data), region="r", source=None),
        lambda: read_contact_rows(_sheet(CONTACT_HEADER, data), DIRECTORY),
    ):
        try:
            read()
        except SheetError as e:
            assert e.problems and all(":" in p for p in e.problems)


@FAST
@given(body=st.binary(max_size=300), zipped=st.booleans())
def test_docx_bytes(tmp_path_factory: pytest.TempPathFactory, body: bytes, zipped: bool) -> None:
    path = tmp_path_factory.mktemp("docx") / "x.docx"
    if zipped:  # a zip with a document part holding anything
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("word/document.xml", body)
        path.write_bytes(buf.getvalue())
    else:
        path.write_bytes(body)
    try:
        docx_text(path)
    except (SourceError, Invalid) as e:
        assert str(e)


_XMLISH = st.sampled_from(
    [
        '<w:numbering xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">',
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>',
        "<w:p><w:pPr><w:numPr>",
        '<w:ilvl w:val="',
        '<w:numId w:val="',
        '<w:abstractNum w:abstractNumId="',
        '<w:num w:numId="',
        '<w:abstractNumId w:val="',
        '<w:lvl w:ilvl="',
        '<w:numFmt w:val="chineseCounting"/>',
        '<w:lvlText w:val="%1、%9%0"/>',
        '<w:start w:val="',
        "<w:t>一、</w:t>",
        "</w:numPr></w:pPr>",
        "</w:p>",
        "</w:lvl>",
        "</w:abstractNum>",
        "</w:num>",
        '"/>',
        '">',
        "0",
        "1",
        "-1",
        "99999999",
        "</w:body></w:document>",
        "</w:numbering>",
    ]
)


@FAST
@given(st.lists(_XMLISH, max_size=40), st.lists(_XMLISH, max_size=40))
def test_docx_parts_with_list_numbering(document: list[str], numbering: list[str]) -> None:
    from rules.docx_text import DocxError, paragraphs

    try:
        paragraphs("".join(document).encode(), "".join(numbering).encode())
    except DocxError as e:
        assert "not readable XML" in str(e)

"""Blocks → DOCX (python-docx), A4 with GB/T 9704 margins, faces named for the reader's Word."""

from __future__ import annotations

import io
from typing import Any

from activities.documents.layout import (
    BODY_FACE,
    FACES,
    POINTS,
    TABLE_POINTS,
    Align,
    Document,
    Rule,
    Style,
    Table,
    Text,
    em_width,
    reproducible_zip,
)

TEXT_WIDTH_MM = 210 - 28 - 26
LATIN_FACE = "Times New Roman"
MM_PER_PT = 25.4 / 72
CELL_PADDING_MM = 2 * 1.9 + 0.6  # Word's default cell margins, 0.08 in each side


def render(doc: Document) -> bytes:
    """The document as DOCX bytes: the same document always gives the same bytes."""
    import docx

    out = docx.Document()
    _page(out)
    _properties(out, doc)
    for block in doc.blocks:
        if isinstance(block, Text):
            _text(out, block)
        elif isinstance(block, Rule):
            _rule(out, block)
        else:
            _table(out, block)
    buf = io.BytesIO()
    out.save(buf)
    return reproducible_zip(buf.getvalue(), doc.timestamp)


def _page(out: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    section = out.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = out.styles["Normal"]
    normal.font.name = LATIN_FACE
    normal.font.size = Pt(POINTS[Style.body])
    _east_asian(normal.element.get_or_add_rPr(), BODY_FACE)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("— ")
    _page_field(footer)
    footer.add_run(" —")


def _properties(out: Any, doc: Document) -> None:
    props = out.core_properties
    props.title = doc.title
    props.author = doc.author
    props.last_modified_by = doc.author
    props.created = doc.timestamp
    props.modified = doc.timestamp
    props.revision = 1
    props.language = "zh-CN"


def _east_asian(rpr: Any, face: str) -> None:
    from docx.oxml.ns import qn

    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), face)


def _page_field(paragraph: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run, text = OxmlElement("w:r"), OxmlElement("w:t")
    text.text = "1"  # the cached result; Word and LibreOffice recompute it on every page
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


_ALIGN = {"left": "LEFT", "centre": "CENTER", "right": "RIGHT", "justify": "JUSTIFY"}


def _text(out: Any, block: Text) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    points = POINTS[block.style]
    p = out.add_paragraph()
    p.alignment = getattr(WD_ALIGN_PARAGRAPH, _ALIGN[block.align.value])
    fmt = p.paragraph_format
    fmt.line_spacing = Pt(28 if block.style is not Style.doc_title else 36)
    fmt.space_before = fmt.space_after = Pt(0)
    if block.style is Style.body:
        fmt.first_line_indent = Pt(2 * points)
    if not block.text:
        return
    run = p.add_run(block.text)
    run.font.size = Pt(points)
    if face := FACES.get(block.style):
        run.font.name = face
        _east_asian(run._r.get_or_add_rPr(), face)
    if block.colour is not None:
        run.font.color.rgb = RGBColor(*block.colour)
    if block.align is Align.right:
        fmt.right_indent = Pt(2 * points)  # 署名 and date sit two characters in from the right


# What follows w:pBdr in a paragraph's properties (ECMA-376 CT_PPrBase): it must come before them.
_AFTER_BORDER_TAGS = (
    "shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi "
    "adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection "
    "textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange"
)
_AFTER_BORDER = tuple(f"w:{t}" for t in _AFTER_BORDER_TAGS.split())


def _rule(out: Any, block: Rule) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    p = out.add_paragraph()
    p.paragraph_format.space_before = p.paragraph_format.space_after = Pt(0)
    p.paragraph_format.line_spacing = Pt(6)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in {"val": "single", "sz": "8", "space": "1", "color": "{:02X}{:02X}{:02X}".format(*block.colour)}.items():
        bottom.set(qn(f"w:{k}"), v)
    borders.append(bottom)
    p._p.get_or_add_pPr().insert_element_before(borders, *_AFTER_BORDER)


def _table(out: Any, block: Table) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    table = out.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    points = block.points or TABLE_POINTS
    em = points * MM_PER_PT
    widths = [Mm(w) for w in block.column_widths(TEXT_WIDTH_MM, lambda t: em_width(t) * em, CELL_PADDING_MM)]
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width  # the grid, which LibreOffice reads; Word reads each cell's width
    for r, values in enumerate((block.header, *block.rows)):
        row = table.rows[r]
        for c, v in enumerate(values):
            cell = row.cells[c]
            cell.width = widths[c]
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.paragraph_format.line_spacing = 1.0
            run = p.add_run(v)
            run.font.size = Pt(points)
            run.font.bold = r == 0
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # the header row repeats on every page
    repeat.set(qn("w:val"), "true")
    header.append(repeat)

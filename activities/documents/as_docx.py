"""Blocks → DOCX (python-docx), A4 with GB/T 9704 margins, faces named for the reader's Word."""

from __future__ import annotations

import io
import itertools
import unicodedata
from typing import Any

from activities.documents.files import reproducible_zip
from activities.documents.layout import (
    BODY_FACE,
    FACES,
    MM_PER_PT,
    POINTS,
    TABLE_POINTS,
    TEXT_WIDTH_MM,
    Align,
    Document,
    Imprint,
    Rule,
    Signature,
    Style,
    Table,
    Text,
    em_width,
    keeps_with_next,
)

LATIN_FACE = "Times New Roman"
CELL_MARGIN_MM = 1.0
"""Each side of a table cell (Word's default is 1.9 mm: eleven columns of a bulletin lose 42 mm)."""
CELL_PADDING_MM = 2 * CELL_MARGIN_MM + 0.6
TEXT_WIDTH_PT = TEXT_WIDTH_MM / MM_PER_PT


def measure(text: str) -> float:
    """A text's width in ems as the reader's word processor may set it, erring wide: its Latin
    face may be wider than Times New Roman (LibreOffice without it takes DejaVu Serif), and
    “”‘’ are full width in a 仿宋. Word and LibreOffice break lines themselves: a cell or a line
    that must not break is given at least this much room. Both also put a quarter em between a
    Chinese character and a digit or Latin letter next to it (w:autoSpaceDN, on by default)."""
    wide = [unicodedata.east_asian_width(c) in "WF" for c in text if not c.isspace()]
    spaces = sum(a != b for a, b in itertools.pairwise(wide))
    return em_width(text, latin=0.65, ambiguous=1.0) + 0.25 * spaces


def render(doc: Document) -> bytes:
    """The document as DOCX bytes: the same document always gives the same bytes."""
    import docx

    out = docx.Document()
    _page(out)
    _properties(out, doc)
    for block, after in zip(doc.blocks, (*doc.blocks[1:], None), strict=True):
        if isinstance(block, Text):
            _text(out, block).paragraph_format.keep_with_next = keeps_with_next(block, after) or None
        elif isinstance(block, Rule):
            _rule(out, block)
        elif isinstance(block, Table):
            _table(out, block)
        elif isinstance(block, Signature):
            _signature(out, block)
        else:
            _imprint(out, block)
    buf = io.BytesIO()
    out.save(buf)
    return reproducible_zip(buf.getvalue(), doc.timestamp)


def _page(out: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    section = out.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = out.styles["Normal"]
    normal.font.name = LATIN_FACE
    normal.font.size = Pt(POINTS[Style.body])
    rpr = normal.element.get_or_add_rPr()
    _east_asian(rpr, BODY_FACE)
    # Chinese text: Word and LibreOffice apply their Chinese line-breaking rules (no line starts
    # with ，。）” …) to text in this language.
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    rpr.insert_element_before(lang, "w:eastAsianLayout", "w:specVanish", "w:oMath")
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


def _text(out: Any, block: Text) -> Any:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    points = POINTS[block.style]
    p = out.add_paragraph()
    p.alignment = getattr(WD_ALIGN_PARAGRAPH, _ALIGN[block.align.value])
    fmt = p.paragraph_format
    fmt.line_spacing = Pt(28 if block.style not in (Style.doc_title, Style.organ) else 36 * points / 22)
    fmt.space_before = fmt.space_after = Pt(0)
    if block.style is Style.body:
        fmt.first_line_indent = Pt(2 * points)
    if not block.text:
        return p
    run = p.add_run(block.text)
    run.font.size = Pt(points)
    if face := FACES.get(block.style):
        run.font.name = face
        _east_asian(run._r.get_or_add_rPr(), face)
    if block.colour is not None:
        run.font.color.rgb = RGBColor(*block.colour)
    if block.one_line:
        _fit(run, block.text, points, TEXT_WIDTH_PT)
    return p


def _fit(run: Any, text: str, points: float, room: float) -> None:
    """Narrow the run's characters (w:w, 长体) so that it fits `room` points on one line."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    width = measure(text) * points
    if width <= room:
        return
    scale = OxmlElement("w:w")
    scale.set(qn("w:val"), str(max(1, int(100 * room / width))))
    run._r.get_or_add_rPr().insert_element_before(scale, *_AFTER_SCALE)


# What follows w:w in a run's properties (ECMA-376 CT_RPr).
_AFTER_SCALE_TAGS = (
    "kern position sz szCs highlight u effect bdr shd fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath"
)
_AFTER_SCALE = tuple(f"w:{t}" for t in _AFTER_SCALE_TAGS.split())


def _signature(out: Any, block: Signature) -> None:
    """A blank line, the 署名, the date, each kept with the next: never the date alone on a page
    (nor the 版记 that follows apart from them)."""
    from docx.shared import Pt

    points = POINTS[Style.plain]
    right, date_right = block.right_indents(TEXT_WIDTH_PT, lambda t: measure(t) * points, points)
    blank = _text(out, Text("", Style.plain, Align.right))
    issuer = _text(out, Text(block.issuer, Style.plain, Align.right))
    date = _text(out, Text(block.date_text, Style.plain, Align.right))
    _fit(issuer.runs[0], block.issuer, points, TEXT_WIDTH_PT - right)
    issuer.paragraph_format.right_indent = Pt(right)
    date.paragraph_format.right_indent = Pt(date_right)
    for p in (blank, issuer, date):
        p.paragraph_format.keep_with_next = True
        p.paragraph_format.keep_together = True


def _imprint(out: Any, block: Imprint) -> None:
    """版记: 抄送 (later lines under the first unit's name), 印发机关 left and 印发日期 right on one
    line (a right tab stop), indented a character each side, between rules; all kept together."""
    from docx.enum.text import WD_TAB_ALIGNMENT
    from docx.shared import Pt

    points = block.points
    paragraphs = [_text(out, Text("", Style.plain, Align.left))]
    paragraphs.append(_rule(out, Rule(weight=0.35)))
    if block.copy_to:
        copies = _text(out, Text(block.copy_text, Style.note, Align.left))
        hang = measure("抄送：") * points
        copies.paragraph_format.left_indent = Pt(points + hang)
        copies.paragraph_format.first_line_indent = Pt(-hang)
        copies.paragraph_format.right_indent = Pt(points)
        copies.runs[0].font.size = Pt(points)
        paragraphs += [copies, _rule(out, Rule(weight=0.25))]
    printed = _text(out, Text(f"{block.printer}\t{block.printed_text}", Style.note, Align.left))
    printed.runs[0].font.size = Pt(points)
    printed.paragraph_format.left_indent = printed.paragraph_format.right_indent = Pt(points)
    printed.paragraph_format.tab_stops.add_tab_stop(Pt(TEXT_WIDTH_PT - points), WD_TAB_ALIGNMENT.RIGHT)
    paragraphs += [printed, _rule(out, Rule(weight=0.35))]
    for p in paragraphs:
        p.paragraph_format.keep_with_next = True


# What follows w:pBdr in a paragraph's properties (ECMA-376 CT_PPrBase): it must come before them.
_AFTER_BORDER_TAGS = (
    "shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi "
    "adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection "
    "textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange"
)
_AFTER_BORDER = tuple(f"w:{t}" for t in _AFTER_BORDER_TAGS.split())


def _rule(out: Any, block: Rule) -> Any:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    p = out.add_paragraph()
    p.paragraph_format.space_before = p.paragraph_format.space_after = Pt(0)
    p.paragraph_format.line_spacing = Pt(6)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    eighths = max(2, round(8 * block.weight / MM_PER_PT))  # w:sz is in eighths of a point
    colour = "{:02X}{:02X}{:02X}".format(*block.colour)
    for k, v in {"val": "single", "sz": str(eighths), "space": "1", "color": colour}.items():
        bottom.set(qn(f"w:{k}"), v)
    borders.append(bottom)
    p._p.get_or_add_pPr().insert_element_before(borders, *_AFTER_BORDER)
    return p


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
    widths = [Mm(w) for w in block.column_widths(TEXT_WIDTH_MM, lambda t: measure(t) * em, CELL_PADDING_MM)]
    table.autofit = False
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        m = OxmlElement(f"w:{side}")
        m.set(qn("w:w"), str(round(CELL_MARGIN_MM / MM_PER_PT * 20)))  # twentieths of a point
        m.set(qn("w:type"), "dxa")
        margins.append(m)
    table._tbl.tblPr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription")
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

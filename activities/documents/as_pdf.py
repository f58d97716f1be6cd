"""Blocks → PDF (fpdf2), A4, with the CJK font subset embedded so the text can be extracted."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from activities.documents import fonts
from activities.documents.layout import (
    MM_PER_PT,
    POINTS,
    TABLE_POINTS,
    Align,
    Block,
    Document,
    Imprint,
    Rule,
    Signature,
    Style,
    Table,
    Text,
    keeps_with_next,
)
from activities.documents.typeset import wrap
from models.time import at

LEFT, TOP, RIGHT, BOTTOM = 28.0, 37.0, 26.0, 35.0  # GB/T 9704 margins, mm
INDENT = "\u3000\u3000"  # first line of a body paragraph: two full-width spaces
EXTRA_CHARS = INDENT
FAMILY = "cjk"
PADDING = 1.0  # mm, inside each table cell
_ALIGN = {Align.left: "L", Align.centre: "C", Align.right: "R", Align.justify: "J"}

# fontTools reports each table it drops while fpdf2 subsets; nothing there is ours to act on.
logging.getLogger("fontTools").setLevel(logging.ERROR)


def render(doc: Document, font: fonts.CjkFont | None = None) -> bytes:
    """The document as PDF bytes: the same document and font file always give the same bytes."""
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

    characters = doc.characters() + EXTRA_CHARS
    font = font or fonts.find(characters)
    if lost := fonts.missing(font, characters):  # fpdf2 would only log it and print nothing
        raise fonts.FontNotFound(f"{font.path} has no glyph for {lost!r}")
    data = fonts.subset(font, characters)

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-BOTTOM + 10)
            self.set_font(FAMILY, size=14)
            self.set_text_color(0, 0, 0)
            self.cell(0, 8, f"— {self.page_no()} —", align="C")

    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    with tempfile.TemporaryDirectory(prefix="duban-font-") as tmp:
        path = Path(tmp) / "cjk.ttf"  # fpdf2 reads fonts from files only; the path is not embedded
        path.write_bytes(data)
        pdf.add_font(FAMILY, "", path)
    # HarfBuzz's subset already holds each glyph's bounding box: recomputing them when fpdf2 saves
    # its own subset decompiles and recompiles every glyph, two thirds of a notice's render time.
    font_obj = pdf.fonts[FAMILY]
    assert isinstance(font_obj, TTFFont)
    font_obj.ttfont.recalcBBoxes = False
    pdf.set_margins(LEFT, TOP, RIGHT)
    pdf.set_auto_page_break(True, margin=BOTTOM)
    pdf.creation_date = at(doc.issued)  # a fixed time: the /CreationDate and the file /ID follow
    pdf.set_title(doc.title)
    pdf.set_author(doc.author)
    pdf.set_creator("duban")
    pdf.set_lang("zh-CN")
    pdf.add_page()
    # The 版记 stays on the 署名's page: the room it takes at the foot goes with the 署名.
    foot = sum(_imprint_height(pdf, b) for b in doc.blocks if isinstance(b, Imprint))
    for block, after in zip(doc.blocks, (*doc.blocks[1:], None), strict=True):
        if isinstance(block, Text):
            _text(pdf, block, _reserve(block, after, foot))
        elif isinstance(block, Rule):
            _rule(pdf, block)
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, Signature):
            _signature(pdf, block, foot)
        else:
            _imprint(pdf, block)
    return bytes(pdf.output())


def _line_height(points: float) -> float:
    return points * MM_PER_PT * 1.75


def _text(pdf: Any, block: Text, reserve: float = 0.0) -> None:
    """The paragraph line by line; with `reserve` (the room what follows needs on the same
    page), its last two lines go to a new page with it rather than end this one."""
    from fpdf.enums import XPos, YPos

    points = POINTS[block.style]
    pdf.set_font(FAMILY, size=points)
    pdf.set_text_color(*(block.colour or (0, 0, 0)))
    height = _line_height(points)
    if block.one_line:
        _one_line(pdf, block.text, _ALIGN[block.align], height)
        return
    text = INDENT + block.text if block.style is Style.body else block.text
    lines = wrap(text, pdf.epw - 2 * pdf.c_margin, pdf.get_string_width)  # the cell's own padding
    align = "L" if block.align is Align.justify else _ALIGN[block.align]
    keep_from = (
        len(lines) - 2 if reserve and len(lines) > 3 else 0 if reserve else len(lines)
    )  # never one line left behind
    for n, line in enumerate(lines):
        need = height * (len(lines) - n) + reserve if n == keep_from else height
        if pdf.get_y() + need > pdf.page_break_trigger and pdf.get_y() > pdf.t_margin + height:
            pdf.add_page()
        pdf.cell(0, height, line, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if block.style is Style.doc_title:
        pdf.ln(2)


def _reserve(block: Block, after: Block | None, foot: float) -> float:
    """The room, in mm, that what follows `block` needs on its page (`layout.keeps_with_next`):
    two lines of text, a table's header and first row, or the whole 署名 and date with the
    版记 (`foot`) under them."""
    if not keeps_with_next(block, after):
        return 0.0
    if isinstance(after, Text):
        return 2 * _line_height(POINTS[after.style])
    if isinstance(after, Table):
        return 2 + 2 * (_line_height(after.points or TABLE_POINTS) * 0.8 + 2 * PADDING)
    return 3 * _line_height(POINTS[Style.plain]) + foot


def _one_line(pdf: Any, text: str, align: str, height: float, *, right: float = 0.0) -> None:
    """`text` on one line `right` mm in from the right edge, narrowed when it is too long."""
    from fpdf.enums import XPos, YPos

    room = pdf.epw - right - 2 * pdf.c_margin
    width = pdf.get_string_width(text)
    if width > room:
        pdf.set_stretching(100 * room / width)
    pdf.cell(pdf.epw - right, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_stretching(100)


def _rule(pdf: Any, block: Rule) -> None:
    pdf.ln(1)
    _line(pdf, block.colour, block.weight)
    pdf.ln(2)


def _line(pdf: Any, colour: tuple[int, int, int], weight: float) -> None:
    pdf.set_draw_color(*colour)
    pdf.set_line_width(weight)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())


def _signature(pdf: Any, block: Signature, foot: float) -> None:
    """A blank line, the 署名, the date: moved to a new page together when they and the 版记
    (`foot`) do not fit."""
    points = POINTS[Style.plain]
    height = _line_height(points)
    if pdf.get_y() + 3 * height + foot > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(FAMILY, size=points)
    pdf.set_text_color(0, 0, 0)
    em = points * MM_PER_PT
    right, date_right = block.right_indents(pdf.epw - 2 * pdf.c_margin, pdf.get_string_width, em)
    pdf.ln(height)
    _one_line(pdf, block.issuer, "R", height, right=right)
    _one_line(pdf, block.date_text, "R", height, right=date_right)


COPY_LABEL = "抄送："


def _copy_lines(pdf: Any, block: Imprint) -> list[str]:
    """The 抄送 units' lines, after the label; later lines hang under the first unit's name."""
    if not block.copy_to:
        return []
    pdf.set_font(FAMILY, size=block.points)
    em = block.points * MM_PER_PT
    room = pdf.epw - 2 * em - pdf.get_string_width(COPY_LABEL)
    return wrap(block.copy_text[len(COPY_LABEL) :], room, pdf.get_string_width)


def _imprint_height(pdf: Any, block: Imprint) -> float:
    """The 版记's height, a line's gap above it included."""
    height = _line_height(block.points) * 0.9
    return (len(_copy_lines(pdf, block)) + 2) * height + 1


def _imprint(pdf: Any, block: Imprint) -> None:
    """The 版记 at the foot of the last page (GB/T 9704 7.4), on a page of its own when the
    text leaves no room for it there."""
    from fpdf.enums import XPos, YPos

    points = block.points
    em = points * MM_PER_PT
    height = _line_height(points) * 0.9
    lines = _copy_lines(pdf, block)
    top = pdf.page_break_trigger - _imprint_height(pdf, block) + height
    if pdf.get_y() + height > top:
        pdf.add_page()
    pdf.set_font(FAMILY, size=points)
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(top)
    _line(pdf, (0, 0, 0), 0.35)
    indent = pdf.l_margin + em - pdf.c_margin
    if block.copy_to:
        label = COPY_LABEL
        hang = pdf.get_string_width(label)  # later lines align under the first unit's name
        for n, line in enumerate(lines):
            pdf.set_x(indent + (hang if n else 0))
            pdf.cell(0, height, (label if n == 0 else "") + line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _line(pdf, (0, 0, 0), 0.25)
    inner = pdf.epw - 2 * em + 2 * pdf.c_margin
    pdf.set_x(indent)
    pdf.cell(inner, height, block.printer)
    pdf.set_x(indent)
    pdf.cell(inner, height, block.printed_text, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _line(pdf, (0, 0, 0), 0.35)


def _table(pdf: Any, block: Table) -> None:
    from fpdf.enums import TextEmphasis, WrapMode
    from fpdf.fonts import FontFace

    pdf.ln(2)
    points = block.points or TABLE_POINTS
    pdf.set_font(FAMILY, size=points)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    widths = block.column_widths(pdf.epw, pdf.get_string_width, 2 * PADDING + 0.6)
    with pdf.table(
        col_widths=widths,
        padding=PADDING,
        text_align="CENTER",
        wrapmode=WrapMode.CHAR,
        line_height=_line_height(points) * 0.8,
        headings_style=FontFace(emphasis=TextEmphasis.NONE, fill_color=(230, 230, 230)),  # one face, no bold
        repeat_headings=1,
    ) as table:
        for values in (block.header, *block.rows):
            row = table.row()
            for v, w in zip(values, widths, strict=True):
                row.cell("\n".join(wrap(v, w - 2 * PADDING, pdf.get_string_width, cell=True)))
    pdf.ln(3)

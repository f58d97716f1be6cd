"""Blocks → PDF (fpdf2), A4, with the CJK font subset embedded so the text can be extracted."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from activities.documents import fonts
from activities.documents.layout import POINTS, TABLE_POINTS, Align, Document, Rule, Style, Table, Text
from models.time import at

MM_PER_PT = 25.4 / 72
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
    for block in doc.blocks:
        if isinstance(block, Text):
            _text(pdf, block)
        elif isinstance(block, Rule):
            _rule(pdf, block)
        else:
            _table(pdf, block)
    return bytes(pdf.output())


def _line_height(points: float) -> float:
    return points * MM_PER_PT * 1.75


def _text(pdf: Any, block: Text) -> None:
    from fpdf.enums import WrapMode, XPos, YPos

    points = POINTS[block.style]
    pdf.set_font(FAMILY, size=points)
    pdf.set_text_color(*(block.colour or (0, 0, 0)))
    text = INDENT + block.text if block.style is Style.body else block.text
    lines = wrap(text, pdf.epw - 2 * pdf.c_margin, pdf.get_string_width)  # the cell's own padding
    align = "L" if block.align is Align.justify else _ALIGN[block.align]
    pdf.multi_cell(
        0,
        _line_height(points),
        "\n".join(lines),
        align=align,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    if block.style is Style.doc_title:
        pdf.ln(2)


NO_LINE_START = set("，。、；：？！）》」』”’〕】…%,.;:?!)")
"""避头点: punctuation that never begins a line in Chinese typesetting."""


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Lines of at most `width`, broken between any two characters (Chinese has no spaces)
    except before closing punctuation, which takes the previous character down with it."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and measure(line + ch) > width - 0.01:
            carry = ""
            if ch in NO_LINE_START and len(line) > 1:
                line, carry = line[:-1], line[-1]
            lines.append(line)
            line = carry
        line += ch
    lines.append(line)
    return lines


def _rule(pdf: Any, block: Rule) -> None:
    pdf.ln(1)
    pdf.set_draw_color(*block.colour)
    pdf.set_line_width(0.35)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)


def _table(pdf: Any, block: Table) -> None:
    from fpdf.enums import TextEmphasis, WrapMode
    from fpdf.fonts import FontFace

    pdf.ln(2)
    points = block.points or TABLE_POINTS
    pdf.set_font(FAMILY, size=points)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    with pdf.table(
        col_widths=block.column_widths(pdf.epw, pdf.get_string_width, 2 * PADDING + 0.6),
        padding=PADDING,
        text_align="CENTER",
        wrapmode=WrapMode.CHAR,
        line_height=_line_height(points) * 0.8,
        headings_style=FontFace(emphasis=TextEmphasis.NONE, fill_color=(230, 230, 230)),  # one face, no bold
        repeat_headings=1,
    ) as table:
        for values in (block.header, *block.rows):
            row = table.row()
            for v in values:
                row.cell(v)
    pdf.ln(3)

"""Chinese typesetting rules the PDF applies itself and the DOCX's column widths respect.

Line breaking (禁则, after GB/T 15834 and common 避头尾 practice): a line never starts with
closing punctuation and never ends with opening punctuation; a number, date or percentage
(2021-04-30, 89.6%, 〔2021〕3号's digits) is never split; a table cell of a few characters (未达标,
整改中) is one unit too. Quotation marks nest “…‘…’…”: the outer pair double, the next single.

Chinese has no spaces: between two characters that none of these rules binds, a line may break.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NO_LINE_START = frozenset("，。、；：？！）》」』”’〕】〗〉…%‰℃,.;:?!)]}·")
"""避头点: punctuation that never begins a line; it stays with the character before it."""
NO_LINE_END = frozenset("“‘（《「『〔【〖〈([{")
"""避尾点: punctuation that never ends a line; it goes down with the character after it."""
SHORT_CELL = 5
"""A table cell of at most this many characters is never broken (状态, 评定, 未达标, 逾期未办结)."""

_ATOM = re.compile(r"[A-Za-z0-9]+(?:[.\-/:,'][A-Za-z0-9]+)*|—+|…+|\s+|.", re.DOTALL)
"""What is never split: a number or Latin word with its inner . - / : (dates, decimals, times),
a run of dashes or of ellipsis points (a 破折号 or 省略号 is one mark), else one character."""


def units(text: str) -> list[str]:
    """`text` cut where a line may break: each piece is never split (the breaks are between pieces)."""
    out: list[str] = []
    glue = False
    for atom in _ATOM.findall(text):
        if out and (glue or atom[0] in NO_LINE_START):
            out[-1] += atom
        else:
            out.append(atom)
        glue = atom[-1] in NO_LINE_END
    return out


_CN_DATE = re.compile(r"(\d{4}年)?\d{1,2}月(\d{1,2}日)?|\d{4}年")


def cell_units(text: str) -> list[str]:
    """A table cell's unbreakable pieces: the whole cell when it is short; a date written in
    Chinese (2021年12月, 4月30日) whole too (in running text it may break after 年 or 月)."""
    if len(text) <= SHORT_CELL:
        return [text]
    out: list[str] = []
    at = 0
    for m in _CN_DATE.finditer(text):
        out += units(text[at : m.start()])
        out.append(m.group())
        at = m.end()
    return _glued(out + units(text[at:]))


def _glued(pieces: list[str]) -> list[str]:
    """Pieces cut apart by `cell_units` joined back where a punctuation rule binds them."""
    out: list[str] = []
    for piece in pieces:
        if out and (piece[0] in NO_LINE_START or out[-1][-1] in NO_LINE_END):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def wrap(text: str, width: float, measure: Callable[[str], float], *, cell: bool = False) -> list[str]:
    """Lines of at most `width` (in the unit of `measure`), broken only between `units`.

    A piece wider than a whole line (a long Latin word) is broken by character: it has to go
    somewhere, and it still never puts closing punctuation first.
    """
    pieces = cell_units(text) if cell else units(text)
    room = width - 0.01
    lines: list[str] = []
    line, used = "", 0.0
    for piece in pieces:
        w = measure(piece)
        if line and used + w > room:
            lines.append(line)
            line, used = "", 0.0
        if not line and w > room:
            *full, piece = _by_character(piece, room, measure)
            lines += full
            w = measure(piece)
        line += piece
        used += w
    lines.append(line)
    return lines


def _by_character(piece: str, room: float, measure: Callable[[str], float]) -> list[str]:
    lines = [""]
    for ch in piece:
        if lines[-1] and measure(lines[-1] + ch) > room and ch not in NO_LINE_START:
            lines.append("")
        lines[-1] += ch
    return lines


def widest_unit(text: str, measure: Callable[[str], float], *, cell: bool = True) -> float:
    """The narrowest a column can be and still hold `text` without splitting a piece
    (`cell`: as a table cell, else as running text, where only numbers hold together)."""
    return max((measure(u) for u in (cell_units(text) if cell else units(text))), default=0.0)


def nest_quotes(text: str) -> str:
    """Quotation marks as Chinese nests them: “…‘…’…”, then “ again inside ‘…’."""
    out = []
    depth = 0
    for c in text:
        if c in "“‘":
            out.append("“" if depth % 2 == 0 else "‘")
            depth += 1
        elif c in "”’":
            depth = max(depth - 1, 0)
            out.append("”" if depth % 2 == 0 else "’")
        else:
            out.append(c)
    return "".join(out)

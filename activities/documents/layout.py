"""The layout every official document shares, as data: a document is a list of blocks.

A document module (`notice`, `bulletin`, `final_report`) turns its model into blocks; `docx` and
`pdf` render the same blocks, so both files of a document always say the same thing. The files
they make, and what makes those reproducible, are in `files`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from activities.documents.files import stamp
from activities.documents.typeset import nest_quotes, widest_unit
from models.documents import Colour, Severity
from models.obligation import ObligationState
from models.plan import UnitKind

RGB = tuple[int, int, int]


class Style(StrEnum):
    """Type sizes and faces after 党政机关公文格式 (GB/T 9704): 二号 title, 三号 body."""

    organ = "organ"  # 发文机关标志: 小标宋, red, centred, narrowed to one line when long
    doc_title = "doc_title"  # 方正小标宋 二号, centred
    number = "number"  # 发文字号, 仿宋 三号
    heading = "heading"  # 一、… 黑体 三号
    body = "body"  # 仿宋 三号, first line indented two characters
    plain = "plain"  # 仿宋 三号, no indent (主送机关, 署名, 日期)
    note = "note"  # 仿宋 四号 (抄送, table captions)
    badge = "badge"  # the 三色督办 label


POINTS: Mapping[Style, float] = {
    Style.organ: 26,
    Style.doc_title: 22,
    Style.number: 16,
    Style.heading: 16,
    Style.body: 16,
    Style.plain: 16,
    Style.note: 14,
    Style.badge: 16,
}
TABLE_POINTS = 10.5  # 五号
MM_PER_PT = 25.4 / 72
TEXT_WIDTH_MM = 210 - 28 - 26
"""版心 width: A4 less GB/T 9704's left and right margins."""

FACES: Mapping[Style, str] = {
    Style.organ: "方正小标宋简体",
    Style.doc_title: "方正小标宋简体",
    Style.heading: "黑体",
    Style.badge: "黑体",
}
BODY_FACE = "仿宋_GB2312"
"""DOCX names these faces for the reader's Word; the PDF embeds the one CJK font it finds."""


class Align(StrEnum):
    left = "left"
    centre = "centre"
    right = "right"
    justify = "justify"


@dataclass(frozen=True)
class Text:
    text: str
    style: Style = Style.body
    align: Align = Align.justify
    colour: RGB | None = None
    one_line: bool = False
    """Never wrapped: narrowed (长体) to the line's width when longer (发文机关标志, 署名)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", nest_quotes(self.text))

    def texts(self) -> tuple[str, ...]:
        return (self.text,)


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the text block (under the 发文字号, around the 版记)."""

    colour: RGB = (0, 0, 0)
    weight: float = 0.35
    """Thickness in mm: GB/T 9704 draws the 版记's first and last rules 0.35 mm, the others 0.25 mm."""

    def texts(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class Signature:
    """发文机关署名 and 成文日期, kept together on one page, the 署名 on one line.

    GB/T 9704 7.3.5.2 (no seal): the 署名 two characters in from the right, the date on the next
    line beginning two characters right of the 署名's first character; a date longer than the
    署名 sits two characters in from the right and pushes the 署名 left.
    """

    issuer: str
    issued: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuer", nest_quotes(self.issuer))

    @property
    def date_text(self) -> str:
        return cn_date(self.issued)

    def texts(self) -> tuple[str, ...]:
        return (self.issuer, self.date_text)

    def right_indents(self, line: float, measure: Callable[[str], float], em: float) -> tuple[float, float]:
        """The 署名's and the date's distance from the right edge, in the unit of `line` and
        `measure`; the 署名 never pushed past the left edge (it is narrowed instead)."""
        issuer, when = measure(self.issuer), measure(self.date_text)
        right = 2 * em
        date_right = right + issuer - 2 * em - when
        if date_right < 2 * em:
            date_right = 2 * em
            right = date_right + when + 2 * em - issuer
        if right + issuer > line:
            right = max(0.0, line - issuer)
            shown = min(issuer, line - right)  # narrowed to the line when wider
            date_right = max(0.0, right + shown - 2 * em - when)
        return right, date_right


@dataclass(frozen=True)
class Imprint:
    """版记 (GB/T 9704 7.4): 抄送机关, then 印发机关 and 印发日期 on one line, between rules."""

    copy_to: tuple[str, ...]
    printer: str
    printed: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "copy_to", tuple(nest_quotes(c) for c in self.copy_to))
        object.__setattr__(self, "printer", nest_quotes(self.printer))

    @property
    def copy_text(self) -> str:
        return f"抄送：{names(self.copy_to)}。" if self.copy_to else ""

    @property
    def printed_text(self) -> str:
        return f"{cn_date(self.printed)}印发"

    def texts(self) -> tuple[str, ...]:
        return (self.copy_text, self.printer, self.printed_text)

    @property
    def points(self) -> float:
        """四号, or smaller until 印发机关 and 印发日期 fit on one line with a character each side
        and two between (a long joint-meeting office's name does not fit in 四号)."""
        need = em_width(self.printer, ambiguous=1.0) + em_width(self.printed_text) + 4
        line = TEXT_WIDTH_MM / MM_PER_PT
        return min(POINTS[Style.note], max(TABLE_POINTS, math.floor(line / need * 2) / 2))


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    points: float | None = None
    """Type size, when not 五号 (a wide table)."""
    flex: int | None = None
    """The column that takes the room left (the longest text when None)."""

    def __post_init__(self) -> None:
        if any(len(r) != len(self.header) for r in self.rows):
            raise ValueError("a table's rows must have as many columns as its header")
        object.__setattr__(self, "header", tuple(nest_quotes(h) for h in self.header))
        object.__setattr__(self, "rows", tuple(tuple(nest_quotes(c) for c in r) for r in self.rows))

    def texts(self) -> tuple[str, ...]:
        return (*self.header, *(c for r in self.rows for c in r))

    def column_widths(self, total: float, measure: Callable[[str], float], padding: float) -> list[float]:
        """Widths in the unit of `total`: each column as wide as its widest cell (so short
        columns never wrap), the flex column taking what is left. When that is too wide, the
        widest columns are cut to one common width (a long 长效机制 column and a long 事项 column
        share the room, rather than one keeping its length and the other wrapping in eight
        lines), but no column below its widest unbreakable piece (`typeset.cell_units`: a date,
        a number, a short cell), nor, when those cannot all fit, below its widest character (a
        column narrower than one character cannot be wrapped at all: fpdf2 loops for ever on it)."""
        columns = list(zip(self.header, *self.rows, strict=True))
        floor = _floors(columns, total, measure, padding * 1.01)
        natural = [max(max(measure(v) for v in col) + padding, f) for col, f in zip(columns, floor, strict=True)]
        if sum(natural) <= total:
            flex = self.flex if self.flex is not None else max(range(len(natural)), key=natural.__getitem__)
            natural[flex] += total - sum(natural)
            return natural

        def capped(cap: float) -> list[float]:
            return [max(f, min(n, cap)) for n, f in zip(natural, floor, strict=True)]

        low, high = 0.0, max(natural)
        for _ in range(60):  # the cap at which the columns add up to `total`, to well under a point
            mid = (low + high) / 2
            low, high = (mid, high) if sum(capped(mid)) < total else (low, mid)
        return capped(high)


def _floors(
    columns: list[tuple[str, ...]], total: float, measure: Callable[[str], float], padding: float
) -> list[float]:
    """Each column's least width: every cell's pieces whole (`typeset.cell_units`); when those do
    not fit side by side, the header's words may break (the body's dates and numbers still may
    not); when even that is too wide, any character may start a line."""

    def whole(col: tuple[str, ...]) -> float:
        return max(widest_unit(v, measure) for v in col)

    def header_breaks(col: tuple[str, ...]) -> float:
        return max([widest_unit(col[0], measure, cell=False), *(widest_unit(v, measure) for v in col[1:])])

    def any_character(col: tuple[str, ...]) -> float:
        return max((measure(c) for v in col for c in v), default=0.0)

    for least in (whole, header_breaks, any_character):
        floor = [least(col) + padding for col in columns]
        if sum(floor) <= total:
            break
    return floor


def keeps_with_next(block: Block, after: Block | None) -> bool:
    """Whether `block` goes to a new page with what follows rather than end a page: a heading
    or a caption, a paragraph leading into a table, the text above the 署名."""
    if not isinstance(block, Text) or after is None:
        return False
    return block.style in (Style.heading, Style.note) or isinstance(after, Table | Signature)


def em_width(text: str, *, latin: float = 0.55, ambiguous: float = 0.55) -> float:
    """A text's width in ems: a Chinese character is one, a Latin letter or digit about half.

    `ambiguous` is for “”‘’…—, full width in a 仿宋 but half in many other fonts: one em when a
    line must surely fit. A % is about twice a digit's width in every face."""
    widths = {"W": 1.0, "F": 1.0, "A": ambiguous}
    return sum(latin * 1.6 if c == "%" else widths.get(unicodedata.east_asian_width(c), latin) for c in text)


Block = Text | Rule | Table | Signature | Imprint


@dataclass(frozen=True)
class Document:
    stem: str
    """File name without extension."""
    title: str
    author: str
    issued: date
    blocks: tuple[Block, ...]

    @property
    def timestamp(self) -> datetime:
        return stamp(self.issued)

    def characters(self) -> str:
        """Every character the document prints (for the PDF's font subset)."""
        parts = [self.title, PAGE_NUMBER_CHARS, *(t for b in self.blocks for t in b.texts())]
        return "".join(sorted(set("".join(parts))))


PAGE_NUMBER_CHARS = "— 0123456789"


# -- words -----------------------------------------------------------------------------------------


def cn_date(d: date) -> str:
    """2021年12月6日: the 成文日期 form (Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


def percent(x: float) -> str:
    return f"{x:.1f}%"


def names(xs: tuple[str, ...]) -> str:
    return "、".join(xs)


CN_NUMERALS = "一二三四五六七八九十"


def section(n: int, title: str) -> Text:
    """一、… the numbered section headings of an official document."""
    return Text(f"{CN_NUMERALS[n - 1]}、{title}", Style.heading, Align.left)


def body(*paragraphs: str) -> tuple[Text, ...]:
    return tuple(Text(p) for p in paragraphs)


def blank() -> Text:
    return Text("", Style.plain, Align.left)


def organ_name(issuer: str) -> str:
    """The issuing organ without the directory's note of who hosts it:
    县……联席会议办公室（县住建局） → 县……联席会议办公室."""
    return re.sub(r"（[^（）]*）$", "", issuer.strip()) or issuer


def version_head(issuer: str, code: str | None, *, badge: Text | None = None) -> tuple[Block, ...]:
    """版头 (GB/T 9704 7.2): 发文机关标志 (the organ's name and 文件, red), a blank line, 发文字号,
    the red rule; then a blank line before the title. A badge (the 三色督办 label) sits above
    the 标志, where 紧急程度 would."""
    mark = Text(f"{organ_name(issuer)}文件", Style.organ, Align.centre, RED_RULE, one_line=True)
    number = (Text(code, Style.number, Align.centre),) if code else ()
    return (*((badge,) if badge else ()), mark, blank(), *number, Rule(RED_RULE, weight=0.6), blank())


def closing(issuer: str, issued: date, copy_to: tuple[str, ...]) -> tuple[Block, ...]:
    """署名 and 成文日期 under the text, then the 版记: 抄送, and the organ printing it that day."""
    return (Signature(issuer, issued), Imprint(copy_to, organ_name(issuer), issued))


STATE_LABELS: Mapping[ObligationState, str] = {
    ObligationState.assigned: "未签收",
    ObligationState.acknowledged: "已签收",
    ObligationState.in_progress: "推进中",
    ObligationState.completed: "已办结",
    ObligationState.withdrawn: "已撤销",
}
KIND_LABELS: Mapping[UnitKind, str] = {
    UnitKind.town: "镇",
    UnitKind.farm: "农场",
    UnitKind.scenic_area: "景区",
    UnitKind.agency: "部门",
    UnitKind.office: "办公室",
    UnitKind.convener: "召集人",
}
SEVERITY_RGB: Mapping[Severity, RGB] = {
    Severity.blue: (0x1F, 0x4E, 0xB4),
    Severity.yellow: (0xC8, 0x8A, 0x00),
    Severity.red: (0xC0, 0x00, 0x00),
}
COLOUR_RGB: Mapping[Colour, RGB] = {
    Colour.green: (0xC6, 0xEF, 0xCE),
    Colour.yellow: (0xFF, 0xEB, 0x9C),
    Colour.red: (0xFF, 0xC7, 0xCE),
}
RED_RULE: RGB = (0xC0, 0x00, 0x00)

"""The layout every official document shares, as data: a document is a list of blocks.

A document module (`notice`, `bulletin`, `final_report`) turns its model into blocks; `docx` and
`pdf` render the same blocks, so both files of a document always say the same thing. This module
also holds what makes the files reproducible: fixed timestamps and a rewritten zip container.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from models.documents import Colour, Severity
from models.obligation import ObligationState
from models.plan import UnitKind
from models.time import at

RGB = tuple[int, int, int]


class Style(StrEnum):
    """Type sizes and faces after 党政机关公文格式 (GB/T 9704): 二号 title, 三号 body."""

    doc_title = "doc_title"  # 方正小标宋 二号, centred
    number = "number"  # 发文字号, 仿宋 三号
    heading = "heading"  # 一、… 黑体 三号
    body = "body"  # 仿宋 三号, first line indented two characters
    plain = "plain"  # 仿宋 三号, no indent (主送机关, 署名, 日期)
    note = "note"  # 仿宋 四号 (抄送, table captions)
    badge = "badge"  # the 三色督办 label


POINTS: Mapping[Style, float] = {
    Style.doc_title: 22,
    Style.number: 16,
    Style.heading: 16,
    Style.body: 16,
    Style.plain: 16,
    Style.note: 14,
    Style.badge: 16,
}
TABLE_POINTS = 10.5  # 五号

FACES: Mapping[Style, str] = {
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


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the text block (under the number line, around the 版记)."""

    colour: RGB = (0, 0, 0)


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

    def column_widths(self, total: float, measure: Callable[[str], float], padding: float) -> list[float]:
        """Widths in the unit of `total`: each column as wide as its widest cell (so short
        columns never wrap), the flex column taking what is left; when that is not enough,
        every column gives up room in proportion, but never below its widest character (a column
        narrower than one character cannot be wrapped at all: fpdf2 loops for ever on it)."""
        columns = list(zip(self.header, *self.rows, strict=True))
        natural = [max(measure(v) for v in col) + padding for col in columns]
        flex = self.flex if self.flex is not None else max(range(len(natural)), key=natural.__getitem__)
        rest = sum(natural) - natural[flex]
        natural[flex] = max(total - rest, min(natural[flex], total / 4))
        scale = total / sum(natural)
        floor = [max((measure(c) for v in col for c in v), default=0.0) + padding * 1.01 for col in columns]
        widths = [max(w * scale, f) for w, f in zip(natural, floor, strict=True)]
        over = sum(widths) - total
        room = [w - f for w, f in zip(widths, floor, strict=True)]
        if over > 0 and sum(room) > over:  # the floors took room: the others give it back in proportion
            widths = [w - over * r / sum(room) for w, r in zip(widths, room, strict=True)]
        return widths


def em_width(text: str) -> float:
    """A text's width in ems: a Chinese character is one, a Latin letter or digit about half."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.55 for c in text)


Block = Text | Rule | Table


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
        parts = [self.title, PAGE_NUMBER_CHARS]
        for b in self.blocks:
            if isinstance(b, Text):
                parts.append(b.text)
            elif isinstance(b, Table):
                parts.extend(b.header)
                parts.extend(c for r in b.rows for c in r)
        return "".join(sorted(set("".join(parts))))


PAGE_NUMBER_CHARS = "— 0123456789"


# -- the files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedFile:
    name: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class RenderedSet(Mapping[str, RenderedFile]):
    """A document's files by format ("docx", "pdf", "xlsx")."""

    files: Mapping[str, RenderedFile]

    def __getitem__(self, fmt: str) -> RenderedFile:
        return self.files[fmt]

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def as_bytes(self) -> dict[str, bytes]:
        return {k: f.data for k, f in self.files.items()}


MEDIA_TYPES: Mapping[str, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def rendered(stem: str, fmt: str, data: bytes) -> RenderedFile:
    return RenderedFile(name=f"{stem}.{fmt}", media_type=MEDIA_TYPES[fmt], data=data)


def stem(campaign_id: str, kind: str, *keys: object) -> str:
    """An ASCII file name stem: campaign, document kind, and what tells one document from another."""
    return "-".join(re.sub(r"[^A-Za-z0-9._-]", "_", str(p)) for p in (campaign_id, kind, *keys))


def stamp(d: date) -> datetime:
    """A file's metadata time from its plan date: 09:00 in Asia/Shanghai, as naive UTC (what
    Office properties and zip members hold). Never the wall clock: a retry renders the same bytes."""
    return at(d).astimezone(UTC).replace(tzinfo=None)


def reproducible_zip(data: bytes, when: datetime, replace: Mapping[str, bytes] | None = None) -> bytes:
    """The same Office file with every member dated `when` and fixed permissions, and the
    members named in `replace` given new content.

    python-docx and openpyxl date each zip member with the wall clock, so two saves a second
    apart differ; members keep their order.
    """
    replace = replace or {}
    out = io.BytesIO()
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            member.create_system = 3
            dst.writestr(member, replace.get(info.filename) or src.read(info))
    return out.getvalue()


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


def signature(issuer: str, issued: date) -> tuple[Text, ...]:
    """署名 and 成文日期, right-aligned under the text."""
    return (
        Text("", Style.plain, Align.right),
        Text(issuer, Style.plain, Align.right),
        Text(cn_date(issued), Style.plain, Align.right),
    )


def copy_to(units: tuple[str, ...]) -> tuple[Block, ...]:
    """抄送 in the 版记 at the end, between two rules."""
    if not units:
        return ()
    return (Rule(), Text(f"抄送：{names(units)}。", Style.note, Align.left), Rule())


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

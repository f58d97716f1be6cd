"""A Word document's body as lines of text, list numbers included (pure: the parts' bytes in).

A 实施方案 typed in Word often numbers its headings with Word's own lists (一、 （一） 1．), which
are not in the paragraph's text but in word/numbering.xml: without them the headings would not
read as headings. The numbers are rendered as Word shows them for the formats offices use
(decimal, chineseCounting, chineseCountingThousand, ideographTraditional…); any other format
renders as decimal. ElementTree's expat expands no external entities and refuses entity bombs.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_LEVELS = 9
_CN = "零一二三四五六七八九"
_TIANGAN = "甲乙丙丁戊己庚辛壬癸"


class DocxError(ValueError):
    """A part that is not readable XML."""


def chinese(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (as Word's chineseCounting)."""
    if n <= 0 or n >= 10_000:
        return str(n)
    out = ""
    digits = [(n // 1000) % 10, (n // 100) % 10, (n // 10) % 10, n % 10]
    units = ["千", "百", "十", ""]
    zero = False
    for d, u in zip(digits, units, strict=True):
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (d == 1 and u == "十" and not out) else _CN[d]) + u
    return out


def _format(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "taiwaneseCounting"):
        return chinese(n)
    if fmt in ("ideographTraditional",) and 1 <= n <= 10:
        return _TIANGAN[n - 1]
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(c) + 0xFEE0) for c in str(n))
    if fmt == "decimalEnclosedCircleChinese" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    return str(n)


def _val(e: ET.Element | None, default: str = "") -> str:
    return default if e is None else e.get(f"{W}val", default)


def _int(s: str, default: int) -> int:
    return int(s) if s.isdigit() and len(s) < 7 else default


def _parse(data: bytes, part: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise DocxError(f"{part}: not readable XML ({e})") from None


def _levels(numbering: bytes | None) -> dict[str, dict[int, tuple[str, str, int]]]:
    """numId → ilvl → (format, level text such as "%1、", start)."""
    if not numbering:
        return {}
    root = _parse(numbering, "word/numbering.xml")
    abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
    for a in root.iter(f"{W}abstractNum"):
        lv: dict[int, tuple[str, str, int]] = {}
        for lvl in a.iter(f"{W}lvl"):
            i = _int(lvl.get(f"{W}ilvl", ""), -1)
            if 0 <= i < MAX_LEVELS:
                fmt = _val(lvl.find(f"{W}numFmt"), "decimal")
                lv[i] = (fmt, _val(lvl.find(f"{W}lvlText")), _int(_val(lvl.find(f"{W}start"), "1"), 1))
        abstract[a.get(f"{W}abstractNumId", "")] = lv
    return {n.get(f"{W}numId", ""): abstract.get(_val(n.find(f"{W}abstractNumId")), {}) for n in root.iter(f"{W}num")}


def paragraphs(document: bytes, numbering: bytes | None = None) -> list[str]:
    """Each paragraph's text, prefixed with its list number where Word numbers it."""
    root = _parse(document, "word/document.xml")
    levels = _levels(numbering)
    counters: dict[str, list[int]] = {}
    lines = []
    for p in root.iter(f"{W}p"):
        parts = []
        for node in p.iter():
            if node.tag == f"{W}t":
                parts.append(node.text or "")
            elif node.tag == f"{W}tab":
                parts.append("\t")
        prefix = ""
        num = p.find(f"{W}pPr/{W}numPr")
        if num is not None:
            nid = _val(num.find(f"{W}numId"))
            ilvl = _int(_val(num.find(f"{W}ilvl"), "0"), 0)
            lv = levels.get(nid, {})
            if nid not in ("", "0") and ilvl in lv:
                count = counters.setdefault(nid, [0] * MAX_LEVELS)
                count[ilvl] += 1
                for deeper in range(ilvl + 1, MAX_LEVELS):
                    count[deeper] = 0

                def number(m: re.Match[str], lv: dict[int, tuple[str, str, int]] = lv, count: list[int] = count) -> str:
                    k = int(m.group(1)) - 1
                    fmt, _, start = lv.get(k, ("decimal", "", 1))
                    return _format(count[k] + start - 1, fmt)

                prefix = re.sub(r"%([1-9])", number, lv[ilvl][1])
        lines.append(prefix + "".join(parts))
    return lines

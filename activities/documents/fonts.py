"""The CJK font a PDF embeds: found on disk at run time, cut down to the characters a document uses.

`scripts/bootstrap` installs Debian's fonts-wqy-zenhei when the machine has no Chinese font.
Parsing a whole CJK font in Python takes about a second (40,000 glyphs), so each document first
cuts the font down to its own characters with HarfBuzz's subsetter (a millisecond) and hands
fpdf2 that small font, which fpdf2 subsets again and embeds with a ToUnicode map (so the PDF's
text can be extracted and searched). The subset depends only on the font file and the
characters, so the PDF's bytes do too.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PACKAGE = "fonts-wqy-zenhei"
ENV = "DUBAN_CJK_FONT"
"""A font file to use instead of the known ones (a .ttf, .otf or .ttc; face 0 of a collection)."""

KNOWN: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # fonts-noto-cjk; face 2 is SC
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
)
PROBE = "督办通知"


class FontNotFound(RuntimeError):
    """No font with Chinese glyphs on this machine: PDFs cannot be rendered."""


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int = 0


def find(text: str = PROBE) -> CjkFont:
    """The font a PDF embeds: the first of $DUBAN_CJK_FONT, the known Debian paths and what
    fontconfig matches for Chinese that has a glyph for every character of `text`.

    Raises:
        FontNotFound: no Chinese font at all (names the Debian package to install), or none with
            every character of `text` (names the characters: a PDF never silently drops one).
    """
    fonts = _installed(os.environ.get(ENV) or "")
    for font in fonts:
        if not missing(font, text):
            return font
    raise FontNotFound(
        f"no installed CJK font has {missing(fonts[0], text)!r} ({fonts[0].path} is the first tried): "
        f"install one that has, e.g. Debian's fonts-noto-cjk, or set {ENV} to it"
    )


def missing(font: CjkFont, text: str) -> str:
    """The characters of `text` that `font` has no glyph for (control characters aside)."""
    import uharfbuzz as hb

    hb_font = hb.Font(_face(font))
    return "".join(c for c in sorted(set(text)) if c >= " " and not hb_font.get_nominal_glyph(ord(c)))


@functools.lru_cache(maxsize=4)
def _installed(override: str) -> list[CjkFont]:
    candidates = [CjkFont(Path(override))] if override else []
    candidates += [CjkFont(Path(p), i) for p, i in KNOWN]
    candidates += _fontconfig()
    found = [c for c in dict.fromkeys(candidates) if c.path.is_file() and _covers(c, PROBE)]
    if found:
        return found
    where = f"{ENV}={override} has no Chinese glyphs; " if override else ""
    raise FontNotFound(
        f"{where}no CJK font found for PDF documents: install Debian's {DEBIAN_PACKAGE} "
        f"(apt-get install {DEBIAN_PACKAGE}, which ./scripts/bootstrap does when run as root), "
        f"or set {ENV} to a .ttf/.ttc font with Chinese glyphs"
    )


def _fontconfig() -> list[CjkFont]:
    fc = shutil.which("fc-match")
    if fc is None:
        return []
    try:
        out = subprocess.run(
            [fc, "-f", "%{file}\\t%{index}\\n", ":lang=zh"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in out.splitlines():
        file, _, index = line.partition("\t")
        if file:
            found.append(CjkFont(Path(file), int(index or 0)))
    return found


@functools.lru_cache(maxsize=4)
def _face(font: CjkFont):  # type: ignore[no-untyped-def]  # uharfbuzz ships no type hints
    import uharfbuzz as hb

    return hb.Face(hb.Blob(font.path.read_bytes()), font.index)


def _covers(font: CjkFont, text: str) -> bool:
    try:
        return not missing(font, text)
    except Exception:  # not a font file HarfBuzz can read
        return False


def subset(font: CjkFont, characters: str) -> bytes:
    """A TrueType/OpenType font holding only `characters` (and .notdef): deterministic bytes."""
    import uharfbuzz as hb

    spec = hb.SubsetInput()
    for c in sorted(set(characters)):
        spec.unicode_set.add(ord(c))
    spec.flags = hb.SubsetFlags.NO_HINTING
    out = hb.subset(_face(font), spec)
    if out is None:
        raise FontNotFound(f"{font.path}: HarfBuzz could not subset this font")
    return bytes(out.blob.data)

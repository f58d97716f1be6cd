"""`duban plan import`: a draft plan YAML from the office's own 实施方案 (.txt or .docx).

The reading is pure (`rules.plan_import`); here the file is read within bounds and the draft
written only once it is whole, so a refused file leaves no half-written draft behind.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import yaml

from models.open_fields import markers
from rules.docx_text import DocxError, paragraphs
from rules.loading import SourceError
from rules.plan_import import ImportError_, draft_plan
from services.errors import Invalid
from services.plans import load_directory, read_text

MAX_DOCX_PART = 16_000_000
"""Uncompressed bytes of word/document.xml: a 实施方案 is well under 1 MB (a zip bomb stops here)."""


def docx_text(path: Path) -> str:
    """A .docx's body as text, a line per paragraph (ElementTree's expat: no external entities)."""
    try:
        z = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise Invalid(f"{path}: no such file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise SourceError(str(path), 1, f"not a Word document (.docx): {e}") from None
    with z:
        try:
            info = z.getinfo("word/document.xml")
        except KeyError:
            raise SourceError(str(path), 1, "not a Word document (.docx): no word/document.xml") from None
        try:
            document = _part(z, info)
            numbering = _part(z, z.getinfo(_NUMBERING)) if _NUMBERING in z.namelist() else None
            return "\n".join(paragraphs(document, numbering))
        except DocxError as e:
            raise SourceError(str(path), 1, str(e)) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
            raise SourceError(str(path), 1, f"a damaged Word document: {e}") from None


_NUMBERING = "word/numbering.xml"


def _part(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_DOCX_PART:
        raise DocxError(f"{info.filename} is larger than {MAX_DOCX_PART:,} bytes: refused")
    with z.open(info) as f:
        data = f.read(MAX_DOCX_PART + 1)
    if len(data) > MAX_DOCX_PART:  # the stated size was a lie: a zip bomb stops here
        raise DocxError(f"{info.filename} is larger than {MAX_DOCX_PART:,} bytes: refused")
    return data


def _plain_text(path: Path) -> str:
    """A .txt as UTF-8, else as GB18030 (GBK): Notepad on a Chinese Windows saves plans in GBK."""
    try:
        return read_text(path)
    except SourceError as e:
        if not e.message.startswith("not UTF-8"):
            raise
        data = path.read_bytes()  # read_text found a regular file within its size bound
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise e from None


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # a draft is read and edited by people: no &id001
        return True


def _mapping(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    # `lead: {to_fill: …}` on the field's own line, as the hand-written plans write it, so that
    # `plan check`'s FILE:LINE points at the marker itself.
    flow = "to_fill" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(dict, _mapping)


def draft_yaml(data: dict[str, Any], *, source: str, head: bool = True) -> str:
    if not head:
        return f"# Read by duban from {source}.\n" + yaml.dump(
            data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000
        )
    top = (
        f"# Draft plan read by `duban plan import` from {source}.\n"
        "# Every value the text did not give reads {to_fill: …}: fill each in, then\n"
        "# `duban plan check --strict FILE` exits 0 when nothing is left.\n"
    )
    return top + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000)


def import_plan_text(source: Path, *, directory: Path | None, out: Path, plan_id: str | None = None) -> tuple[str, int]:
    """Read `source` (.txt or .docx), write the draft to `out`; (the draft's text, fields to fill).

    The draft names `directory` relative to `out`'s folder, as plan files do.
    """
    text = docx_text(source) if source.suffix.lower() == ".docx" else _plain_text(source)
    units = load_directory(directory) if directory is not None else None
    ref = os.path.relpath(directory, out.parent) if directory is not None else "units/TO_FILL.yaml"
    if plan_id is None:
        plan_id = re.sub(r"[^a-z0-9-]+", "-", source.stem.lower()).strip("-")
        if not plan_id or not plan_id[0].isalpha():
            plan_id = f"plan-{plan_id}".rstrip("-")
    elif not re.fullmatch(r"[a-z][a-z0-9-]{0,63}", plan_id):
        raise Invalid(f"--id {plan_id!r}: a plan id is lower-case letters, digits and -, starting with a letter")
    try:
        data = draft_plan(text, directory=units, directory_ref=ref, plan_id=plan_id)
    except ImportError_ as e:
        raise SourceError(str(source), e.line, e.message) from None
    doc = draft_yaml(data, source=source.name)
    write_whole(out, doc)
    return doc, sum(1 for _ in markers(data, ()))


def write_whole(out: Path, text: str) -> None:
    """Write to a temporary file beside `out` and rename: never a half-written file at `out`."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise Invalid(f"{out}: cannot be written ({e.strerror or e})") from None

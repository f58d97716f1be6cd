"""A document's files: one rendered file, the set of a document's formats, their stems, and what
makes them reproducible (fixed timestamps, a rewritten zip container)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from models.time import at


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

"""Reading the files a user hands us (plans, directories, rule sets, contacts, calendars) safely.

Only regular files, read up to a bound (a FIFO or /dev/zero would block or never end), decoded
as UTF-8 with the line of a bad byte; a file a plan names (its `directory:`) must lie in the
plan's folder, so `directory: /proc/self/environ` or `../../etc/passwd` is refused, not read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rules.bounded_yaml import MAX_CHARS
from rules.loading import SourceError

MAX_BYTES = MAX_CHARS * 2
"""Bytes in one source file (UTF-8 Chinese runs 3 bytes a character; the text bound is checked again)."""


def read_source(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    """The file's text.

    Raises:
        FileNotFoundError, IsADirectoryError: as `open` does, for the caller to word.
        SourceError: not a regular file, too large, not UTF-8 (at the line of the first bad byte).
    """
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(path))
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(str(path), 1, "not a regular file (a device, pipe or socket): refused")
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(str(path), 1, f"the file is too large (more than {max_bytes:,} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SourceError(str(path), line, f"not UTF-8 text (byte 0x{data[e.start]:02X})") from None


def referenced(owner: Path, ref: str, *, line: int, root: Path | None = None, what: str = "unit directory") -> Path:
    """The file `owner` names at `line` (relative to `owner`'s folder), confined to `root`
    (default: that folder) and a regular file.

    Raises:
        SourceError: at `owner`'s line, naming what is wrong.
    """
    base = owner.parent
    top = (root or base).resolve()
    if "\x00" in ref:
        raise SourceError(str(owner), line, f"{what} {ref!r}: not a file name")
    target = (base / ref).resolve()
    if not target.is_relative_to(top):
        raise SourceError(str(owner), line, f"{what} {ref!r} is outside {top}: refused (name a file beside the plan)")
    if not target.exists():
        raise SourceError(str(owner), line, f"{what} {ref!r} not found (looked for {base / ref})")
    if not target.is_file():
        raise SourceError(str(owner), line, f"{what} {ref!r} is not a regular file: refused")
    return target


class EvidenceUnreadable(Exception):
    """An evidence file that is not read: missing, a link, not a regular file, too large."""


def read_evidence(path: Path, *, max_bytes: int) -> bytes:
    """An evidence file's bytes. A symbolic link is refused, not followed (a link to a system
    file must not be sent as a town's photo); so is anything but a regular file, or one larger
    than `max_bytes` (read no further than that)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise EvidenceUnreadable(f"{path}: no such file") from None
    except OSError as e:
        if os.path.islink(path):
            raise EvidenceUnreadable(f"{path}: a symbolic link: refused (attach the file itself)") from None
        raise EvidenceUnreadable(f"{path}: cannot be read ({e.strerror or e})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise EvidenceUnreadable(f"{path}: not a regular file: refused")
    with os.fdopen(fd, "rb") as f:
        if st.st_size > max_bytes:
            raise EvidenceUnreadable(f"{path}: {st.st_size:,} bytes, larger than any rule set accepts")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise EvidenceUnreadable(f"{path}: larger than any rule set accepts")
    return data

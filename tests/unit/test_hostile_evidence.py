"""Evidence files as a user hands them: a link is refused, not followed; a device or a folder is
not read; a file larger than any rule set accepts is not read whole; names with paths refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from activities.source_files import EvidenceUnreadable, read_evidence
from models.ruleset import EvidencePolicy
from rules.evidence import name_problem, policy_problem


def test_a_symlink_to_a_system_file_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "photo.pdf"
    link.symlink_to("/etc/passwd")
    with pytest.raises(EvidenceUnreadable, match="symbolic link"):
        read_evidence(link, max_bytes=1_000_000)


@pytest.mark.parametrize("path", ["/dev/zero", "/proc"])
def test_not_a_regular_file(path: str) -> None:
    with pytest.raises(EvidenceUnreadable, match="not a regular file"):
        read_evidence(Path(path), max_bytes=1_000)


def test_too_large_is_refused_before_reading(tmp_path: Path) -> None:
    f = tmp_path / "big.pdf"
    with open(f, "wb") as out:
        out.truncate(10_000_001)  # sparse: nothing is written, nothing should be read
    with pytest.raises(EvidenceUnreadable, match="larger than any rule set accepts"):
        read_evidence(f, max_bytes=10_000_000)


def test_a_plain_file_reads(tmp_path: Path) -> None:
    f = tmp_path / "整改照片.pdf"
    f.write_bytes(b"%PDF-1.4")
    assert read_evidence(f, max_bytes=100) == b"%PDF-1.4"
    assert not os.path.islink(f)


@pytest.mark.parametrize(
    "name",
    ["..\\..\\win.ini.pdf", "../x.pdf", "a/b.pdf", "x\ny.pdf", "x\ry.pdf", "a\x00.pdf", "..", " ", "\x1b[2J.pdf"],
)
def test_names_with_paths_or_control_characters_are_refused(name: str) -> None:
    assert name_problem(name) is not None
    assert policy_problem(name, 10, EvidencePolicy()) is not None


@pytest.mark.parametrize("name", ["整改照片.pdf", "2021年12月 台账.xlsx", "a.b.c.png"])
def test_plain_names_pass(name: str) -> None:
    assert name_problem(name) is None
    assert policy_problem(name, 10, EvidencePolicy()) is None

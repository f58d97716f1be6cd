"""Damaged and hostile score workbooks: each refused as a WorkbookError naming the cell or the
part (the CLI exits 2 with it), never a traceback, never a hang."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from activities.score_workbook import WorkbookError, read_cells

SHEET = "xl/worksheets/sheet1.xml"


def good(tmp_path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "acceptance_basic"
    ws.append(["单位代码 [unit]", "卫生 [clean]", "评分日期 [date]"])
    ws.append(["anju", 90, date(2021, 12, 28)])
    ws["C2"].number_format = "yyyy-mm-dd"
    path = tmp_path / "good.xlsx"
    wb.save(path)
    return path


def rewrite(src: Path, dst: Path, part: str, edit: Callable[[str], str | None]) -> Path:
    """A copy of the workbook with one part edited (None: left out)."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for info in z.infolist():
            data = z.read(info).decode("utf-8")
            if info.filename == part:
                edited = edit(data)
                if edited is None:
                    continue
                data = edited
            out.writestr(info, data)
    return dst


def refused(path: Path) -> str:
    with pytest.raises(WorkbookError) as e:
        read_cells(path)
    assert str(e.value).startswith(f"{path}: ")
    return str(e.value)


def test_the_good_one_reads(tmp_path: Path) -> None:
    title, rows = read_cells(good(tmp_path))
    assert title == "acceptance_basic"
    assert [c.value for c in rows[1]] == ["anju", 90, date(2021, 12, 28)]


def test_a_truncated_sheet(tmp_path: Path) -> None:
    bad = rewrite(good(tmp_path), tmp_path / "b.xlsx", SHEET, lambda s: s[: len(s) // 2])
    assert "sheet1.xml: not readable XML" in refused(bad)


def test_a_missing_sheet(tmp_path: Path) -> None:
    bad = rewrite(good(tmp_path), tmp_path / "b.xlsx", SHEET, lambda s: None)
    assert "no part xl/worksheets/sheet1.xml" in refused(bad)


def test_a_shared_string_that_does_not_exist(tmp_path: Path) -> None:
    def edit(s: str) -> str:
        return re.sub(r'<c r="A2" t="inlineStr">.*?</c>', '<c r="A2" t="s"><v>9999</v></c>', s)

    bad = rewrite(good(tmp_path), tmp_path / "b.xlsx", SHEET, edit)
    assert re.search(r": A2: shared string '9999' does not exist", refused(bad))


def test_a_number_cell_holding_text(tmp_path: Path) -> None:
    bad = rewrite(good(tmp_path), tmp_path / "b.xlsx", SHEET, lambda s: s.replace("<v>90</v>", "<v>abc</v>"))
    assert ": B2: not a number: 'abc'" in refused(bad)


@pytest.mark.parametrize("v", ["-5", "1e12", "nan"])
def test_a_bad_date_cell(tmp_path: Path, v: str) -> None:
    src = good(tmp_path)
    with zipfile.ZipFile(src) as z:
        serial = re.search(r'<c r="C2"[^>]*><v>([^<]+)</v>', z.read(SHEET).decode())
    assert serial
    bad = rewrite(src, tmp_path / "b.xlsx", SHEET, lambda s: s.replace(f"<v>{serial[1]}</v>", f"<v>{v}</v>"))
    assert ": C2: " in refused(bad)


@pytest.mark.timeout(60)
def test_one_cell_at_the_far_corner_does_not_hang(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws["XFD1048576"] = 1
    path = tmp_path / "corner.xlsx"
    wb.save(path)
    assert path.stat().st_size < 10_000
    assert "XFD1048576: beyond the bounds" in refused(path)


def test_a_zip_of_an_unknown_version(tmp_path: Path) -> None:
    data = bytearray(good(tmp_path).read_bytes())
    at = data.index(b"PK\x01\x02")  # the first central directory entry: "version needed" at +6
    data[at + 6] = 0xBB
    bad = tmp_path / "b.xlsx"
    bad.write_bytes(bytes(data))
    assert "not an Excel workbook" in refused(bad)


def test_an_entity_bomb_is_refused(tmp_path: Path) -> None:
    doctype = (
        '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>"
    )

    def edit(s: str) -> str:
        return doctype + s.replace("<t>anju</t>", "<t>&i;</t>")

    bad = rewrite(good(tmp_path), tmp_path / "b.xlsx", SHEET, edit)
    assert "sheet1.xml: not readable XML" in refused(bad)


def test_the_sheet_named_is_read_when_there(tmp_path: Path) -> None:
    path = good(tmp_path)
    wb = load_workbook(path)
    wb.create_sheet("other").append(["x"])
    wb.save(path)
    assert read_cells(path, prefer="other")[0] == "other"
    assert read_cells(path, prefer="nope")[0] == "acceptance_basic"

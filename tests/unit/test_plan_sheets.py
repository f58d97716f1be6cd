"""The 任务分解表 and 单位目录 workbook: export, edit, import back.

A plan exported and read back has the same plan hash; a directory exported and read back is the
same directory; a bad cell is named by its reference and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from unit_support import CHANGHE_DIRECTORY_PATH, CHANGHE_PLAN_PATH, DIRECTORY_PATH, PLAN_PATH

from rules.loading import parse_directory, parse_plan
from services.errors import Invalid
from services.plan_sheets import export_xlsx, import_xlsx
from services.plans import load_plan


@pytest.mark.parametrize(
    ("plan_path", "directory"),
    [
        pytest.param(PLAN_PATH, DIRECTORY_PATH, id="suixian"),
        pytest.param(CHANGHE_PLAN_PATH, CHANGHE_DIRECTORY_PATH, id="changhe"),
    ],
)
def test_round_trip_keeps_the_plan_hash_and_the_directory(plan_path: Path, directory: Path, tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    export_xlsx(plan_path, book)
    text, units_text = import_xlsx(book, plan_path=plan_path, out=tmp_path / "back.yaml", units_out=tmp_path / "u.yaml")
    shipped = load_plan(plan_path)
    back = parse_plan(text, path="back.yaml", directory=shipped.directory)
    assert back.digest() == shipped.digest()
    assert back.open_fields == shipped.open_fields  # to_fill cells come back as to_fill
    assert units_text is not None
    d = parse_directory(units_text, path="u.yaml")
    assert d == parse_directory(directory.read_text(encoding="utf-8"), path=str(directory))


def test_an_edit_in_the_sheet_reaches_the_plan(tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    export_xlsx(PLAN_PATH, book)
    wb = openpyxl.load_workbook(book)
    wb["任务分解表"]["C2"] = "县住建局"
    wb.save(book)
    text, _ = import_xlsx(book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml")
    shipped = load_plan(PLAN_PATH)
    back = parse_plan(text, path="back.yaml", directory=shipped.directory)
    assert (back.tasks[0].lead, shipped.tasks[0].lead) == ("housing", "natural-resources")
    assert back.digest() != shipped.digest()


def test_bad_cells_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    export_xlsx(PLAN_PATH, book)
    wb = openpyxl.load_workbook(book)
    ws = wb["任务分解表"]
    ws["C7"] = "县教育局局"
    ws["D3"] = "县发改局、县水务局"
    ws["F4"] = "补齐别的短板"
    wb["单位目录"]["C3"] = "bureau"
    wb.save(book)
    with pytest.raises(Invalid) as e:
        import_xlsx(book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml", units_out=tmp_path / "u.yaml")
    msg = str(e.value)
    for part in (
        "任务分解表!C7: 未知单位 县教育局局",
        "任务分解表!D3: 未知单位 县水务局",
        "任务分解表!F4: 未知类别 补齐别的短板",
        "单位目录!C3: 类型 'bureau'",
    ):
        assert part in msg  # every bad cell of every sheet, in one refusal
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]


def test_a_unit_added_in_the_directory_sheet_can_lead_a_task(tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    export_xlsx(PLAN_PATH, book)
    wb = openpyxl.load_workbook(book)
    wb["单位目录"].append(["market", "县市场监管局", "agency", "", ""])
    wb["任务分解表"]["C5"] = "县市场监管局"
    wb.save(book)
    with pytest.raises(Invalid, match="任务分解表!C5: 未知单位 县市场监管局"):  # not without its directory
        import_xlsx(book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml")
    (tmp_path / "units").mkdir()
    text, _ = import_xlsx(
        book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml", units_out=tmp_path / "units" / "u.yaml"
    )
    assert "directory: units/u.yaml" in text
    back = load_plan(tmp_path / "back.yaml")  # reads the directory it names, as `plan check` does
    assert back.tasks[3].lead == "market"


def test_not_a_workbook_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    book.write_bytes(b"not a zip")
    with pytest.raises(Exception) as e:
        import_xlsx(book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml")
    assert "not an Excel workbook" in str(e.value)
    assert not (tmp_path / "back.yaml").exists()


CONTACTS_PATH = PLAN_PATH.parent / "contacts" / "suixian.yaml"


def test_contacts_round_trip_and_bad_cells(tmp_path: Path) -> None:
    from activities.delivery import load_contacts

    book = tmp_path / "plan.xlsx"
    export_xlsx(PLAN_PATH, book, contacts=CONTACTS_PATH)
    (tmp_path / "contacts").mkdir()
    out = tmp_path / "contacts" / "c.yaml"
    import_xlsx(book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml", contacts_out=out)
    # The written file names the plan's unit directory; read it as the service does.
    text = out.read_text(encoding="utf-8")
    from rules.contacts import parse_contacts

    d = load_plan(PLAN_PATH).directory
    assert parse_contacts(text, path=str(out), directory=d) == load_contacts(CONTACTS_PATH).model_copy(
        update={"directory": parse_contacts(text, path=str(out), directory=d).directory}
    )
    wb = openpyxl.load_workbook(book)
    ws = wb["联系方式"]
    ws["D3"] = "not-an-address"
    ws["A4"] = "nobody"
    wb.save(book)
    out.unlink()
    (tmp_path / "back.yaml").unlink()
    with pytest.raises(Invalid) as e:
        import_xlsx(book, plan_path=PLAN_PATH, out=tmp_path / "back.yaml", contacts_out=out)
    assert "联系方式!D3: " in str(e.value) and "联系方式!A4: 未知单位 nobody" in str(e.value)
    assert not out.exists() and not (tmp_path / "back.yaml").exists()

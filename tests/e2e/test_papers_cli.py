"""`duban notices`, `duban notice`, `duban bulletin` on a rehearsed campaign, as a user runs them.

One `duban demo` of the mini plan for the module (a few seconds); every command then reads what it
stored in the same embedded PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
import pytest

from tests.e2e.conftest import ROOT, run_duban

pytestmark = pytest.mark.e2e

MINI_PLAN = ROOT / "tests" / "fixtures" / "mini-plan.yaml"


def ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return r


def refused(r: subprocess.CompletedProcess[str], *words: str, code: int = 1) -> None:
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert r.stdout == ""
    for w in words:
        assert w in r.stderr, (w, r.stderr)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("demo")
    ok(run_duban("demo", "--plan", MINI_PLAN, "--out", out, "--seed", "3", cwd=out, timeout=180))
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_notices_are_listed_and_each_writes_its_checked_files(campaign: dict[str, Any], tmp_path: Path) -> None:
    cid = campaign["campaign_id"]
    listed = json.loads(ok(run_duban("notices", cid, "--json")).stdout)["notices"]
    assert len(listed) == campaign["notices"] > 0
    assert [n["number"] for n in listed] == list(range(1, len(listed) + 1))
    for n in listed:
        assert {"code", "date", "unit", "severity", "obligation", "level"} <= n.keys()
        assert n["severity"] in ("blue", "yellow", "red") and n["obligation"].startswith(f"{cid}/")
        # The obligations the notice lists (one notice per unit per round), its own first, with the
        # figures its table prints; and everyone it is copied to.
        assert n["items"] and n["items"][0]["obligation"] == n["obligation"]
        for item in n["items"]:
            assert f"/{n['unit']}/" in item["obligation"] and item["due"] < n["date"] and item["days_overdue"] >= 1
        assert n["copies"] and n["copies"][0] == n["copy_to"]
    first = listed[0]
    table = ok(run_duban("notices", cid, "--unit", first["unit"])).stdout
    assert first["code"] in table and first["severity"] in table
    assert f"{cid}: {sum(n['unit'] == first['unit'] for n in listed)} notices to {first['unit']}" in table

    pdf, docx = tmp_path / "n.pdf", tmp_path / "out" / "n.docx"
    r = ok(run_duban("notice", first["code"], "--campaign", cid, "--pdf", pdf, "--docx", docx, "--json"))
    shown = json.loads(r.stdout)
    assert (shown["code"], shown["unit"], shown["severity"]) == (first["code"], first["unit"], first["severity"])
    assert shown["files"]["pdf"]["sha256"] == sha(pdf) and shown["files"]["docx"]["sha256"] == sha(docx)
    assert f"wrote {pdf}" in r.stderr
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert first["code"] in text
    flat = "".join(text.split())
    # 版头 then title; the 版记 closes it: 抄送 (always someone) and 印发
    assert flat.index("文件") < flat.index(first["code"]) < flat.index("关于督促办理")
    assert flat.index("关于督促办理") < flat.index("抄送：") < flat.index("印发")


def test_bulletin_prints_the_month_and_writes_its_checked_files(campaign: dict[str, Any], tmp_path: Path) -> None:
    cid = campaign["campaign_id"]
    xlsx, pdf = tmp_path / "ledger.xlsx", tmp_path / "bulletin.pdf"
    body = json.loads(ok(run_duban("bulletin", cid, "2022-01", "--json", "--xlsx", xlsx, "--pdf", pdf)).stdout)
    assert (body["campaign"], body["month"]) == (cid, "2022-01-01")
    assert body["totals"]["total"] == campaign["obligations"] == sum(u["total"] for u in body["units"].values())
    assert body["files"]["xlsx"]["sha256"] == sha(xlsx) == body["documents"]["ledger"]["xlsx"]
    assert body["files"]["pdf"]["sha256"] == sha(pdf) == body["documents"]["bulletin"]["pdf"]
    ws = openpyxl.load_workbook(xlsx).active
    assert ws is not None and ws.max_row == 1 + campaign["obligations"]  # one row per obligation
    text = "".join("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages).split())
    # numbered in month order from the first bulletin (2021-05): December's and January's are
    # the two issued in 2022
    assert "测通〔2022〕2号" in text and text.index("测通〔2022〕2号") < text.index(body["title"])

    table = ok(run_duban("bulletin", cid, "2022-01")).stdout
    assert body["title"] in table
    for u in body["units"].values():
        assert u["name"] in table
    assert "criticised" in table and "commended" in table


def test_what_names_nothing_is_refused_with_exit_1_and_a_bad_month_with_exit_2(campaign: dict[str, Any]) -> None:
    cid = campaign["campaign_id"]
    refused(run_duban("notices", "no-such-campaign"), "no campaign 'no-such-campaign'")
    refused(run_duban("notices", cid, "--unit", "atlantis"), "no unit 'atlantis'")
    refused(run_duban("notice", "测督〔2099〕9号", "--campaign", cid), "no notice '测督〔2099〕9号'")
    refused(run_duban("bulletin", cid, "2030-01"), "no bulletin for 2030-01", "2021-05")
    refused(run_duban("bulletin", cid, "2021-13"), "'2021-13' is not a month", code=2)


def test_a_units_inbox_shows_its_newest_messages_oldest_first(campaign: dict[str, Any]) -> None:
    cid = campaign["campaign_id"]
    # A unit that was 督办'd (a diligent one may have had no more than its reminders).
    unit = json.loads(ok(run_duban("notices", cid, "--json")).stdout)["notices"][0]["unit"]
    everything = ok(run_duban("inbox", unit, "--campaign", cid, "--limit", "100000")).stdout.splitlines()
    *lines, footer = everything
    assert len(lines) > 3 and footer == f"{unit}: {len(lines)} messages in {cid}"
    assert lines == sorted(lines)  # by plan time, oldest first
    kinds = {ln.split()[2] for ln in lines}
    assert {"reminder", "notice"} <= kinds, kinds  # escalations go up the ladder, not to the unit

    *newest, footer = ok(run_duban("inbox", unit, "--campaign", cid, "--limit", "3")).stdout.splitlines()
    assert newest == lines[-3:]  # the newest three, not the first three
    assert footer == f"{unit}: the newest 3 of {len(lines)} messages in {cid} (--limit for more)"

    assert ok(run_duban("inbox", "atlantis", "--campaign", cid)).stdout == f"atlantis: nothing in the inbox in {cid}\n"

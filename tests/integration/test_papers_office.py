"""The papers as a county office reads them: the DOCX opened by LibreOffice (headless), converted
to PDF and read back with poppler's pdftotext, a reader no one here wrote.

`scripts/install-office` installs both from Debian (root only); the test command runs it. The
test skips only when neither is installed and apt-get cannot be run (not root). One soffice
process converts every document, in a profile of its own (another soffice may be running).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from activities.documents import render_bulletin, render_notice
from activities.documents.typeset import NO_LINE_END, NO_LINE_START
from tests.unit.documents_support import bulletin, notice

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "县“擦亮小城镇”建设美丽城镇联席会议办公室（县住建局）"
"""The 随县 office as its directory names it: its 署名 wrapped as “（县住建 / 局）” before."""
PARAGRAPH = "经核查，你单位承担的“编制镇级“擦亮小城镇”工作方案”等任务已超过完成时限仍未办结，请明确专人负责，倒排工期。"
TOOLS = ("soffice", "pdftotext")


def _installed() -> bool:
    return all(shutil.which(t) for t in TOOLS)


@pytest.fixture(scope="module")
def office() -> None:
    if not _installed():
        subprocess.run([ROOT / "scripts" / "install-office"], check=True, timeout=900)
    if _installed():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("LibreOffice/poppler not installed and apt-get needs root: run scripts/install-office as root")
    pytest.fail("scripts/install-office ran as root but soffice or pdftotext is still missing")


@dataclass(frozen=True)
class Read:
    pages: list[list[str]]
    """Each page's lines, whitespace removed (LibreOffice spaces Chinese from digits)."""

    @property
    def lines(self) -> list[str]:
        return [ln for page in self.pages for ln in page]

    def at(self, text: str) -> int:
        return next(i for i, ln in enumerate(self.lines) if text in ln)


@pytest.fixture(scope="module")
def read_back(office: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Read]]:
    tmp = tmp_path_factory.mktemp("office")
    docs = {
        "notice": render_notice(notice().model_copy(update={"issuer": ISSUER})),
        # 13 paragraphs: without keep-with-next LibreOffice 7.4 puts the date alone on page 3
        "long-notice": render_notice(notice().model_copy(update={"issuer": ISSUER, "body": (PARAGRAPH,) * 13})),
        "bulletin": render_bulletin(bulletin().model_copy(update={"issuer": ISSUER})),
    }
    for name, files in docs.items():
        (tmp / f"{name}.docx").write_bytes(files["docx"].data)
    profile = (tmp / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "pdf",
         "--outdir", str(tmp / "pdf"), *(str(tmp / f"{n}.docx") for n in docs)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    out = {}
    for name in docs:
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(tmp / "pdf" / f"{name}.pdf"), "-"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        pages = [[re.sub(r"\s+", "", ln) for ln in page.splitlines()] for page in text.split("\f")]
        out[name] = Read([[ln for ln in page if ln] for page in pages if any(page)])
    yield out


@pytest.mark.parametrize("name", ["notice", "long-notice"])
def test_a_notice_reads_in_the_order_of_gbt_9704(read_back: dict[str, Read], name: str) -> None:
    r = read_back[name]
    parts = [
        "县“擦亮小城镇”建设美丽城镇联席会议办公室文件",  # 发文机关标志
        "随擦亮督〔2022〕3号",  # 发文字号
        "关于督促办理殷店镇",  # 标题
        "殷店镇人民政府：",  # 主送机关
        "逾期未办结任务清单（共3项）",  # the table in the 正文
        ISSUER,  # 署名, on one line
        "2022年1月18日",  # 成文日期, the next line
        "抄送：县住建局、县市场监管局。",  # 版记
        "2022年1月18日印发",
    ]
    at = [r.at(p) for p in parts]
    assert at == sorted(at), list(zip(parts, at, strict=True))
    assert at[6] == at[5] + 1
    assert r.lines[at[7] + 1] == "县“擦亮小城镇”建设美丽城镇联席会议办公室"  # 印发机关 (its date is at the right)
    assert "2022年1月18日印发" in r.pages[-1]


@pytest.mark.parametrize("name", ["notice", "long-notice", "bulletin"])
def test_the_last_page_holds_signature_and_date_together(read_back: dict[str, Read], name: str) -> None:
    r = read_back[name]
    last = r.pages[-1]
    assert ISSUER in last, last
    date = last.index(ISSUER) + 1
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", last[date]), last
    assert all(ISSUER not in page for page in r.pages[:-1] if page is not last)


def test_the_long_notice_runs_onto_a_third_page_with_text_above_the_signature(read_back: dict[str, Read]) -> None:
    r = read_back["long-notice"]
    assert len(r.pages) >= 3
    last = r.pages[-1]
    assert last.index(ISSUER) > 0  # some of the text is on the signature's page
    assert "逾期仍未办结的" in "".join(last[: last.index(ISSUER)])


def test_chinese_text_numbers_and_dates_come_back_intact(read_back: dict[str, Read]) -> None:
    notice_text = "".join(read_back["notice"].lines)
    for cell in ("集镇污水管网改造及雨污分流", "编制镇级“擦亮小城镇”工作方案", "推进中", "未签收"):
        assert cell in notice_text
    # each date and percentage of a table cell on one line, not split ("2021-04- / 30", "60 / %")
    for unsplit in ("2021-12-31", "2021-04-30", "60%", "20%"):
        assert any(unsplit in ln for ln in read_back["notice"].lines), unsplit
    bulletin_lines = read_back["bulletin"].lines
    for unsplit in ("2021年12月", "2021年11月", "62.5%", "48.3%", "整改中"):
        assert any(unsplit in ln for ln in bulletin_lines), unsplit
    at = [read_back["bulletin"].at(p) for p in ("文件", "随擦亮通〔2022〕1号", "关于2021年12月", "各镇（场、景区）")]
    assert at == sorted(at)


def test_quotes_nest_and_no_line_breaks_a_punctuation_rule(read_back: dict[str, Read]) -> None:
    long = read_back["long-notice"]
    assert "“编制镇级‘擦亮小城镇’工作方案”" in "".join(long.lines)
    for name, r in read_back.items():
        assert not [ln for ln in r.lines if ln[0] in NO_LINE_START], name
        assert not [ln for ln in r.lines if ln[-1] in NO_LINE_END], name

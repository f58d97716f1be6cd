"""`duban bench province` as a user runs it: a tiny province, every figure reported, nothing lost
in the timer storm. Timings are not asserted (they go in BENCHMARKS.md), only that each was taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_duban

pytestmark = pytest.mark.e2e


def test_bench_province_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = ["--towns", "5", "--runs", "1", "--naive-sample", "20", "--storm", "--storm-lead", "20"]
    done = run_duban("bench", "province", *args, "--json", out, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["towns"], report["tasks"]) == (5, 15)
    (run,) = report["runs"]
    # 5 towns × (1 work plan + 15 tasks × 2 milestones) and the agencies' own work.
    assert run["towns"] == 5 and run["obligations"] > 5 * 31
    for k in ("raw_client", "raw_children", "started", "timers", "naive_sample", "rss_mb"):
        assert run[k] > 0, k
    assert run["started"] <= run["timers"]
    assert run["naive"] == pytest.approx(run["naive_sample"] * run["obligations"] / 20)
    assert 0 < run["largest"] <= 10_240
    storm = run["storm"]
    # Every deadline due at the instant reached its inbox row: each town's 15 基础型 tasks at least.
    assert storm["rows"] == storm["firings"] >= 5 * 15
    assert storm["ready"] < storm["lead"], "the storm campaign was not ready before its instant"
    assert storm["raw_timers"] == storm["firings"] // 15 * 15
    assert storm["p50"] <= storm["p99"] <= storm["max"]
    assert storm["bulletin"]["obligations"] == run["obligations"] and storm["bulletin"]["docx_pdf"] > 0
    # The Markdown table a user pastes into BENCHMARKS.md.
    assert "| province launch: … and its first timer set, s |" in done.stdout
    assert "storm: duban, lag due → inbox row, p99, s" in done.stdout
    assert "load average" in done.stdout


def test_bench_province_refuses_nonsense() -> None:
    done = run_duban("bench", "province", "--towns", "0")
    assert done.returncode == 2
    assert "at least 1" in done.stderr

"""The `duban` CLI end to end, as a user runs it: the installed executable in a subprocess.

Scripts against the contract in DESIGN.md ("The CLI") and the README: exit codes (0 ok, 1 a check
failed or a thing was not found, 2 bad input, with FILE:LINE: message for files), and never a
traceback for anything a user can get wrong.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
import yaml

from tests.e2e.conftest import COMMAND, ROOT, Duban, Live, Stack, clean_env, run_duban
from tests.support import no_traceback

pytestmark = pytest.mark.e2e

PLAN = ROOT / "plans" / "suixian-2021.yaml"
MINI_PLAN = ROOT / "tests" / "fixtures" / "mini-plan.yaml"
CALENDAR_FILE = ROOT / "plans" / "calendar" / "cn-extra.yaml"
SEAT_TOWN = "厉山镇"


# -- plan check ------------------------------------------------------------------------------------


def test_plan_check_summarises_a_good_plan_in_one_line(duban: Duban) -> None:
    r = duban("plan", "check", "plans/suixian-2021.yaml")

    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    line = lines[0]
    for part in ("15 tasks", "7 categories", "19 ", SEAT_TOWN):
        assert part in line, (part, line)
    assert re.search(r"\b19 towns", line), line


def _replace_once(text: str, old: str, new: str) -> tuple[str, int]:
    """`text` with its only `old` replaced by `new`, and the 1-based line it is on."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the plan: pick a unique anchor"
    at = text.index(old)
    return text.replace(old, new), text.count("\n", 0, at) + 1


# (edit of the plan's text, words the message must contain); the line is where the edit is.
BROKEN: dict[str, tuple[Callable[[str], tuple[str, int]], list[str]]] = {
    "bad date": (
        lambda t: _replace_once(t, "        due: 2021-12-31\n", "        due: 2021-13-01\n"),
        ["2021-13-01"],
    ),
    "impossible issue date": (
        lambda t: _replace_once(t, "issued: 2021-04-30\n", "issued: 2021-02-30\n"),
        ["2021-02-30"],
    ),
    "unknown unit": (
        lambda t: _replace_once(t, "ecology, water, ", "ecology, no-such-bureau, "),
        ["no-such-bureau"],
    ),
    "duplicate task number": (
        lambda t: _replace_once(t, "  - no: 5\n", "  - no: 4\n"),
        ["duplicate", "4"],
    ),
    "phase ends before it starts": (
        lambda t: _replace_once(t, "    end: 2022-12-31\n", "    end: 2022-05-31\n"),
        ["2022-05-31", "before"],
    ),
    "YAML syntax error": (
        lambda t: _replace_once(t, "    name: 科学编制规划\n", "    name: 科学编制规划: 又一个冒号\n"),
        ["YAML"],
    ),
    "missing unit directory": (
        lambda t: _replace_once(t, "directory: units/suixian.yaml\n", "directory: units/nowhere.yaml\n"),
        ["nowhere.yaml"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_plan_check_points_at_the_broken_line(duban: Duban, tmp_path: Path, case: str) -> None:
    shutil.copytree(ROOT / "plans" / "units", tmp_path / "units")
    plan = tmp_path / "suixian-2021.yaml"
    edit, words = BROKEN[case]
    text, line = edit(PLAN.read_text(encoding="utf-8"))
    plan.write_text(text, encoding="utf-8")

    # an absolute path makes the line longer than a terminal: it must still be one line
    r = duban("plan", "check", plan, cwd=tmp_path)

    assert r.returncode == 2, (r.stdout, r.stderr)
    no_traceback(r)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    m = re.fullmatch(rf"{re.escape(str(plan))}:(\d+): (\S.*)", lines[0])
    assert m, lines[0]
    assert int(m[1]) == line, lines[0]
    for word in words:
        assert word in m[2], (word, lines[0])


def test_plan_check_relative_path_is_reported_as_given(duban: Duban, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "plans" / "units", tmp_path / "units")
    text, line = _replace_once(PLAN.read_text(encoding="utf-8"), "  - no: 5\n", "  - no: 4\n")
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")

    r = duban("plan", "check", "broken.yaml", cwd=tmp_path)

    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"broken.yaml:{line}: duplicate task number 4"]


def test_plan_check_a_missing_file_names_it(duban: Duban, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-plan.yaml"

    r = duban("plan", "check", missing, cwd=tmp_path)

    assert r.returncode == 2
    no_traceback(r)
    assert str(missing) in r.stderr
    assert r.stdout == ""


def test_plan_check_without_a_file_is_a_usage_error(duban: Duban) -> None:
    r = duban("plan", "check")

    assert r.returncode == 2
    no_traceback(r)
    assert "Missing argument" in r.stderr


# -- plan show -------------------------------------------------------------------------------------


def test_plan_show_json_is_the_parsed_plan(duban: Duban) -> None:
    r = duban("plan", "show", "plans/suixian-2021.yaml", "--json")

    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)

    tasks = data["tasks"]
    assert len(tasks) == 15
    assert [t["no"] for t in tasks] == list(range(1, 16))
    for t in tasks:
        assert {"no", "name", "category", "lead", "responsible"} <= t.keys(), t
        assert isinstance(t["responsible"], list) and t["responsible"], t

    scope = data["units_in_scope"]
    assert len(scope) == 19
    scope_names = {u["name"] for u in scope}
    assert len(scope_names) == 19
    assert SEAT_TOWN not in scope_names
    assert [u["name"] for u in data["excluded"]] == [SEAT_TOWN]

    t1 = tasks[0]
    assert t1["name"] == "科学编制规划"
    assert t1["lead"] == "县自然资源和规划局"
    assert {"县发改局", "县住建局"} <= set(t1["responsible"])
    assert scope_names <= set(t1["responsible"])
    assert SEAT_TOWN not in t1["responsible"]

    phases = data["phases"]
    for p in phases:
        assert {"name", "start", "end", "milestones"} <= p.keys(), p
        assert date.fromisoformat(p["start"]) <= date.fromisoformat(p["end"]), p
    milestones = {m["id"]: m["due"] for p in phases for m in p["milestones"]}
    assert milestones["basic"] == "2021-12-31"
    assert milestones["model"] == "2022-06-30"


# -- calendar shift --------------------------------------------------------------------------------


def official_shift(d: date, n: int) -> date:
    """N official working days after (or before) `d`, by chinesecalendar itself."""
    step = timedelta(days=1 if n >= 0 else -1)
    left = abs(n)
    while left:
        d += step
        if chinese_calendar.is_workday(d):
            left -= 1
    return d


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2021-04-30", 1, "2021-05-06"),  # over 劳动节 (05-01 … 05-05)
        ("2021-04-30", 5, "2021-05-11"),  # 2021-05-08, a Saturday, is a make-up workday
        ("2021-09-17", 1, "2021-09-18"),  # Saturday make-up day before 中秋
        ("2021-10-08", -1, "2021-09-30"),  # back over 国庆 (10-01 … 10-07)
        ("2022-01-28", 1, "2022-01-29"),  # Saturday make-up day before 春节
        ("2021-05-06", -3, "2021-04-28"),  # negative N, back over 劳动节
        ("2021-09-26", 0, "2021-09-26"),  # a Sunday make-up workday, zero days on
    ],
)
def test_calendar_shift_follows_the_official_calendar(duban: Duban, start: str, n: int, expected: str) -> None:
    assert official_shift(date.fromisoformat(start), n).isoformat() == expected  # the example itself is right

    r = duban("calendar", "shift", start, str(n))

    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == expected
    assert r.stderr == ""


def test_calendar_shift_examples_cross_weekend_make_up_days() -> None:
    # The examples above rest on these facts; if chinesecalendar ever disagrees, they must change.
    for day in ("2021-05-08", "2021-09-18", "2022-01-29"):
        d = date.fromisoformat(day)
        assert d.weekday() == 5 and chinese_calendar.is_workday(d), day


def _first_unknown_year() -> int:
    known: set[int] = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    extra = yaml.safe_load(CALENDAR_FILE.read_text(encoding="utf-8")) or {}
    known |= {int(y) for y in (extra.get("years") or {})}
    return max(known) + 1


def test_calendar_shift_past_the_known_years_warns_and_counts_weekdays(duban: Duban) -> None:
    year = _first_unknown_year()
    start = date(year, 3, 2)
    expected = start
    for _ in range(5):
        expected += timedelta(days=1)
        while expected.weekday() >= 5:
            expected += timedelta(days=1)

    r = duban("calendar", "shift", start.isoformat(), "5")

    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r.stdout.strip()), r.stdout
    assert r.stdout.strip() == expected.isoformat()
    assert "warning" in r.stderr.lower()
    assert str(year) in r.stderr
    no_traceback(r)


def test_calendar_show_lists_a_years_holidays_and_make_up_workdays(duban: Duban) -> None:
    r = duban("calendar", "show", "2021")

    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("2021 (source: chinesecalendar")
    listed = {ln.split()[0]: ln for ln in lines[1:]}
    # Every day of the official holiday periods and every make-up workday, and nothing else.
    official = {d.isoformat() for d in (*chinese_calendar.holidays, *chinese_calendar.workdays) if d.year == 2021}
    assert set(listed) == official
    assert len(official) > 30
    assert listed["2021-10-01"].endswith("holiday 放假")  # 国庆
    assert listed["2021-09-26"].endswith("make-up workday 调休上班")  # a Sunday worked before it
    assert listed["2021-02-07"].split()[1] == "日"


def test_calendar_show_past_the_known_years_warns_and_says_so(duban: Duban) -> None:
    year = _first_unknown_year()

    r = duban("calendar", "show", str(year))

    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{year} (source: none): no holidays or make-up workdays known")
    assert "warning" in r.stderr.lower() and str(year) in r.stderr
    no_traceback(r)


def test_calendar_show_reads_a_year_from_the_calendar_file(duban: Duban, tmp_path: Path) -> None:
    year = _first_unknown_year()
    extra = tmp_path / "cn-extra.yaml"
    extra.write_text(
        f"years:\n  {year}:\n    source: 国办发明电（测试）\n"
        f"    holidays: [{year}-10-01, {year}-10-04]\n    workdays: [{year}-09-26]\n",
        encoding="utf-8",
    )

    r = run_duban("calendar", "show", str(year), env=clean_env(DUBAN_CALENDAR_FILE=str(extra)))

    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0] == f"{year} (source: 国办发明电（测试）)"
    assert [ln.split()[0] for ln in lines[1:]] == [f"{year}-09-26", f"{year}-10-01", f"{year}-10-04"]


@pytest.mark.parametrize("bad", ["2021-02-30", "not-a-date", "2021/05/06"])
def test_calendar_shift_rejects_a_bad_date(duban: Duban, bad: str) -> None:
    r = duban("calendar", "shift", bad, "1")

    assert r.returncode == 2
    no_traceback(r)
    assert bad in r.stderr
    assert r.stdout == ""


def test_calendar_shift_rejects_a_non_integer_count(duban: Duban) -> None:
    r = duban("calendar", "shift", "2021-05-06", "three")

    assert r.returncode == 2
    no_traceback(r)


@pytest.mark.parametrize(("start", "n"), [("9999-12-31", "1"), ("0001-01-01", "-1")])
def test_calendar_shift_off_the_end_of_time_is_a_user_error(duban: Duban, start: str, n: str) -> None:
    r = duban("calendar", "shift", start, n)

    no_traceback(r)
    assert r.returncode == 2


# -- demo ------------------------------------------------------------------------------------------

COUNTS = (
    "obligations",
    "reminders",
    "escalations",
    "notices",
    "rectification_orders",
    "bulletins",
    "assessments",
    "audit_events",
)
# summary count -> the audit trail's kind of row it counts
KIND_OF = {
    "reminders": "reminder",
    "escalations": "escalation",
    "notices": "notice",
    "rectification_orders": "rectification_order",
    "bulletins": "bulletin",
    "assessments": "assessment",
    "completed": "obligation.completed",
}


def _demo(duban: Duban, tmp_path: Path, name: str, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    out = tmp_path / name
    began = time.monotonic()
    r = duban("demo", "--plan", MINI_PLAN, "--out", out, "--seed", str(seed), cwd=tmp_path, timeout=120)
    took = time.monotonic() - began
    assert r.returncode == 0, r.stdout + r.stderr
    no_traceback(r)
    assert "summary.json" in r.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    trail = [json.loads(line) for line in (out / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    return summary, trail, took


def _shape(trail: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The trail without what differs between runs (campaign id, milliseconds, server time, hashes)."""
    return sorted(
        (
            r["kind"],
            r["plan_date"],
            r["unit"] or "",
            r["rule"] or "",
            (r["obligation"] or "").split("/", 1)[-1],
        )
        for r in trail
    )


def test_demo_rehearses_a_campaign_reproducibly(duban: Duban, tmp_path: Path) -> None:
    s3a, trail3a, t1 = _demo(duban, tmp_path, "seed3-a", 3)
    s3b, trail3b, t2 = _demo(duban, tmp_path, "seed3-b", 3)
    s4, trail4, t3 = _demo(duban, tmp_path, "seed4", 4)
    print(f"demo runs: {t1:.1f} s, {t2:.1f} s, {t3:.1f} s")

    for summary, trail, seed in ((s3a, trail3a, 3), (s3b, trail3b, 3), (s4, trail4, 4)):
        assert summary["seed"] == seed
        for k in (*COUNTS, "completed"):
            assert type(summary[k]) is int, (k, summary[k])
        assert {"workflows", "activities", "history_events", "wall_seconds"} <= summary["engine"].keys()
        for k in ("workflows", "activities", "history_events"):
            assert type(summary["engine"][k]) is int and summary["engine"][k] > 0, (k, summary["engine"])
        assert isinstance(summary["engine"]["wall_seconds"], int | float)
        # The engine's true cost: every saved history counted, the detached 责令整改 workflows
        # too, which the workflow trees' own sum (`engine_reported`) leaves out.
        eng, reported, orders = summary["engine"], summary["engine_reported"], summary["rectification_engine"]
        assert eng["runs"] == summary["histories"] == eng["workflows"] + eng["continued_as_new"]
        assert eng["workflows"] == reported["workflows"] + orders["workflows"]
        assert eng["activities"] >= reported["activities"]

        # mini-plan: 3 tasks for 2 towns plus the 3 lead agencies; one town never answers (--silent 1)
        assert summary["obligations"] == 9
        assert summary["completed"] < summary["obligations"]
        assert summary["escalations"] > 0
        assert summary["notices"] > 0

        assert summary["audit_events"] == len(trail)
        kinds = Counter(r["kind"] for r in trail)
        for k, kind in KIND_OF.items():
            assert summary[k] == kinds[kind], (k, summary[k], kinds)
        for row in trail:
            assert {"plan_date", "server_time", "obligation", "unit", "rule", "kind"} <= row.keys(), row
            date.fromisoformat(row["plan_date"])
            if row["kind"] in ("reminder", "escalation"):
                assert row["rule"], row
                assert row["obligation"] and row["unit"], row

    for summary, trail in ((s3a, trail3a), (s4, trail4)):
        _nothing_lost(duban, tmp_path, summary["campaign_id"], trail)

    same = (*COUNTS, "completed")
    assert {k: s3a[k] for k in same} == {k: s3b[k] for k in same}
    assert _shape(trail3a) == _shape(trail3b), "same seed, different campaign"
    assert _shape(trail3a) != _shape(trail4), "the seed changes nothing"


def _nothing_lost(duban: Duban, tmp_path: Path, cid: str, trail: list[dict[str, Any]]) -> None:
    """Papers per unit (issue 14.1) lose no obligation: each the rules 督办'd with a notice is on
    one of the unit's 督办通知, each a rule or a bulletin ordered rectified is on one of its 责令整改."""
    r = duban("notices", cid, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    noticed = {(n["unit"], i["obligation"]) for n in json.loads(r.stdout)["notices"] for i in n["items"]}
    r = duban("rectify", "list", cid, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ordered = {(o["unit"], i) for o in json.loads(r.stdout)["orders"] for i in o["items"]}
    to_notice = {
        (row["unit"], row["obligation"])
        for row in trail
        if row["kind"] == "escalation" and row["payload"].get("notice")
    }
    to_order = {(row["unit"], row["obligation"]) for row in trail if row["kind"] == "rectification_item"}
    for row in trail:
        if row["kind"] in ("rectification_order", "rectification_added"):
            to_order |= {(row["unit"], i) for i in row["payload"].get("items", [])}
    assert to_notice and to_notice <= noticed, to_notice - noticed
    assert to_order and to_order <= ordered, to_order - ordered


def test_demo_refuses_a_broken_plan_before_starting_anything(duban: Duban, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "plans" / "units", tmp_path / "units")
    text, line = _replace_once(PLAN.read_text(encoding="utf-8"), "  - no: 5\n", "  - no: 4\n")
    plan = tmp_path / "broken.yaml"
    plan.write_text(text, encoding="utf-8")

    r = duban("demo", "--plan", plan, "--out", tmp_path / "out", cwd=tmp_path)

    assert r.returncode == 2
    no_traceback(r)
    assert r.stderr.splitlines() == [f"{plan}:{line}: duplicate task number 4"]
    assert not (tmp_path / "out").exists()


# -- the live path: duban up, launch, act, status --------------------------------------------------


def test_live_campaign_on_the_embedded_dev_server(live: Live) -> None:
    timings: dict[str, float] = {}
    began = time.monotonic()

    live.wait_ready()  # includes `duban status nonexistent` answering exit 1
    r = live.run("status", "nonexistent")
    assert r.returncode == 1
    no_traceback(r)
    assert "nonexistent" in r.stderr
    timings["up"] = time.monotonic() - began

    cid = f"e2e-{uuid.uuid4().hex[:12]}"
    r = live.run("launch", MINI_PLAN, "--id", cid, "--speed", "1", "--from", "2021-05-06")
    assert r.returncode == 0, r.stdout + r.stderr
    no_traceback(r)
    assert f"launched {cid}" in r.stdout
    assert "2021-05-06" in r.stdout
    # the campaign starts its unit workflows on the worker that `duban up` runs
    live.wait_for_workflow(f"{cid}/rollout/east")
    timings["launch"] = time.monotonic() - began - timings["up"]

    east_t01 = f"{cid}/rollout/east/T01-basic"
    r = live.run("ack", east_t01, "--unit", "east")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "acknowledged" in r.stdout
    assert east_t01 in r.stdout

    r = live.run("ack", east_t01, "--unit", "east")
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    assert "already acknowledged" in r.stdout + r.stderr

    r = live.run("complete", f"{cid}/rollout/west/T01-basic", "--unit", "east")
    assert r.returncode == 1, r.stdout + r.stderr
    no_traceback(r)
    assert "may not act" in r.stdout + r.stderr

    r = live.run("ack", "not-an-id", "--unit", "east")
    assert r.returncode == 2, r.stdout + r.stderr
    no_traceback(r)
    assert "not-an-id" in r.stderr

    # The campaign's row is written by an activity soon after launch; the acknowledgement is
    # mirrored within seconds (a 2-second debounce; it was 5 real minutes at speed 1), so what the
    # office reads next already shows it.
    live.wait_for("the campaign in PostgreSQL", lambda: live.run("status", cid).returncode == 0, timeout=30)
    live.wait_for(
        "the acknowledgement in PostgreSQL",
        lambda: f"{east_t01}: " in (out := live.run("rules", "explain", east_t01).stdout) and "acknowledged 0%" in out,
        timeout=60,
    )
    r = live.run("status", cid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^obligations\s+9\s*$", r.stdout, re.MULTILINE), r.stdout
    assert re.search(rf"^campaign\s+{re.escape(cid)}\s*$", r.stdout, re.MULTILINE), r.stdout
    timings["act"] = time.monotonic() - began - timings["up"] - timings["launch"]

    code = live.interrupt_up()
    assert code is not None, "`duban up` did not stop on Ctrl-C\n" + live.up_output()
    assert "Traceback" not in live.up_err.read_text(errors="replace"), live.up_output()
    print("live timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; Ctrl-C → exit {code}")


def test_live_refusals_are_messages_not_tracebacks(live: Live) -> None:
    live.wait_ready()
    cid = f"e2e-{uuid.uuid4().hex[:12]}"
    r = live.run("launch", MINI_PLAN, "--id", cid, "--from", "2021-05-06")
    assert r.returncode == 0, r.stdout + r.stderr
    live.wait_for_workflow(f"{cid}/rollout/east")

    problems = []
    for args in (
        ("launch", MINI_PLAN, "--id", cid, "--from", "2021-05-06"),  # the same campaign again
        ("ack", f"{cid}/rollout/nowhere/T01-basic", "--unit", "nowhere"),  # no such unit
        ("ack", "no-such-campaign/rollout/east/T01-basic", "--unit", "east"),  # no such campaign
    ):
        r = live.run(*args)
        if r.returncode != 1 or "Traceback" in r.stdout + r.stderr or not r.stderr.strip():
            problems.append(f"duban {' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr[-600:]}")
    assert not problems, "\n".join(problems)


def test_live_rule_set_install_refuses_a_broken_file_and_installs_a_good_one(live: Live, tmp_path: Path) -> None:
    live.wait_ready()
    cid = f"e2e-{uuid.uuid4().hex[:12]}"
    r = live.run("launch", MINI_PLAN, "--id", cid, "--from", "2021-05-06")
    assert r.returncode == 0, r.stdout + r.stderr
    live.wait_for_workflow(f"{cid}/rollout/east")
    default = (ROOT / "rules" / "rulesets" / "suixian-default.yaml").read_text(encoding="utf-8")

    broken = tmp_path / "broken.yaml"
    broken.write_text(default.replace("escalation_level >= 2", "escalation_level >= "), encoding="utf-8")
    r = live.run("rules", "install", cid, broken)
    assert r.returncode == 2, r.stdout + r.stderr
    line = next(
        i for i, x in enumerate(broken.read_text(encoding="utf-8").splitlines(), 1) if "escalation_level >= " in x
    )
    assert f"{broken}:{line}: rule escalate-to-convener: condition does not parse" in r.stderr
    assert "Traceback" not in r.stderr

    good = tmp_path / "good.yaml"
    good.write_text(default.replace("version: 2", "version: 3", 1), encoding="utf-8")
    r = live.run("rules", "install", cid, good, "--by", "住建局")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{cid}: installed suixian-default v3" in r.stdout
    again = live.run("rules", "install", cid, good)
    assert again.returncode == 1 and "already in force" in again.stderr, again.stdout + again.stderr

    ob = f"{cid}/rollout/west/T01-basic"
    live.wait_for(
        "the installation on the record",
        lambda: "suixian-default v3" in live.run("rules", "explain", ob).stdout,
        timeout=30,
    )
    r = live.run("rules", "explain", ob, "--json")
    assert r.returncode == 0, r.stderr
    ex = json.loads(r.stdout)
    nxt = {(n["on"], n["rule"]) for n in ex["next"]}
    assert ("2021-12-28", "remind-before-due") in nxt and ("2022-01-04", "escalate-to-lead") in nxt


def test_commands_started_together_on_a_fresh_install_all_succeed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from activities import servers
    from activities.config import Settings

    for name in ("DATABASE_URL", "DUBAN_DATABASE_URL", "DUBAN_ENV"):
        monkeypatch.delenv(name, raising=False)
    servers.ensure_postgres(Settings(var_dir=stack.var_dir))  # the server, not duban's database
    procs = [
        subprocess.Popen(
            [*COMMAND, "db", "upgrade"],
            cwd=ROOT,
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(60), *p.communicate()) for p in procs]

    for code, stdout, stderr in results:
        assert code == 0, stderr[-1500:]
        assert "Traceback" not in stderr
        assert "latest schema" in stdout


def test_rules_check_and_rules_test_as_the_secretariat_runs_them(duban: Duban, tmp_path: Path) -> None:
    rules, scenarios = "rules/rulesets/suixian-default.yaml", "rules/rulesets/suixian-default.scenarios.yaml"
    r = duban("rules", "check", rules, "--plan", "plans/suixian-2021.yaml")
    assert r.returncode == 0, r.stderr
    assert "suixian-default v2: 9 rules" in r.stdout and "ladder unit → lead → office → convener" in r.stdout

    cycle = tmp_path / "cycle.yaml"
    text = (ROOT / rules).read_text(encoding="utf-8").replace("[unit, lead, office, convener]", "[unit, lead, unit]")
    cycle.write_text(text, encoding="utf-8")
    r = duban("rules", "check", cycle)
    line = next(i for i, x in enumerate(text.splitlines(), 1) if x.startswith("ladder:"))
    assert (r.returncode, r.stderr.strip()) == (
        2,
        f"{cycle}:{line}: the escalation ladder has a cycle: unit → lead → unit",
    )

    r = duban("rules", "test", rules, scenarios)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("3 passed, 0 failed")

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        (ROOT / scenarios)
        .read_text(encoding="utf-8")
        .replace(
            "{on: 2021-12-28, kind: remind, rule: remind-before-due}",
            "{on: 2021-12-27, kind: remind, rule: remind-before-due}",
            1,
        ),
        encoding="utf-8",
    )
    r = duban("rules", "test", rules, wrong)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "expected 2021-12-27 remind remind-before-due: did not fire" in r.stdout
    assert "also fired: 2021-12-28 催办 → unit (remind-before-due)" in r.stdout
    assert "2 passed, 1 failed" in r.stdout


def test_the_changhe_plan_rehearses_to_its_end_on_its_own_rules(duban: Duban, tmp_path: Path) -> None:
    """长河镇: one town's plan to the 2030 horizon, on changhe-default (月度对账, 每月通报,
    通报并责令整改), with its fields still to fill in running on their fallbacks."""
    out = tmp_path / "changhe"
    r = duban("demo", "--plan", ROOT / "plans" / "changhe-2021.yaml", "--out", out, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    no_traceback(r)
    assert "fields still to fill in" in r.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["obligations"] == 21  # 17 重点任务 and 4 from 四、保障措施
    trail = [json.loads(line) for line in (out / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert trail[0]["kind"] == "campaign.launched" and trail[-1]["kind"] == "campaign.closed"
    assert trail[-1]["plan_time"].startswith("2031-01-01")  # the 2030 horizon, and closed
    rules = {row["rule"] for row in trail if row.get("rule")}
    assert rules <= {
        "remind-before-due",
        "monthly-reconciliation",
        "monthly-bulletin",
        "escalate-to-office",
        "escalate-to-leading-group",
        "rectify-laggard",
    }
    assert "monthly-reconciliation" in rules
    # Its units answer their notice and order now (issue 14): all 21 obligations close (the last on
    # 2022-01-18 for seed 7), and the bulletins stop with the first that finds nothing open, not
    # at the 2030 horizon (119 when one obligation stayed open).
    assert summary["completed"] == 21
    closed = max(row["plan_date"] for row in trail if row["kind"] == "obligation.completed")
    published = sorted(row["plan_date"] for row in trail if row["kind"] == "bulletin")
    assert summary["bulletins"] == len(published) < 100
    assert published[-2] <= closed < published[-1]

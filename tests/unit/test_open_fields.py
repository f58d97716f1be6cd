"""Fields a plan file leaves to fill in ({to_fill: …}): what they fall back to, where they may
stand, and that plans without any dump, hash and round-trip exactly as before."""

from __future__ import annotations

import json
from datetime import date

import pytest
from unit_support import ROOT, line_of, replace_once

from models.open_fields import TO_FILL_TEXT
from models.plan import Plan, UnitDirectory
from rules.loading import SourceError, open_field_lines, parse_directory, parse_plan
from rules.obligations import expand

MINI = ROOT / "tests" / "fixtures" / "mini-plan.yaml"
PATH = "mini.yaml"


@pytest.fixture(scope="module")
def mini_text() -> str:
    return MINI.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def mini_directory() -> UnitDirectory:
    path = MINI.parent / "units" / "mini.yaml"
    return parse_directory(path.read_text(encoding="utf-8"), path=str(path))


def parse(text: str, directory: UnitDirectory) -> Plan:
    return parse_plan(text, path=PATH, directory=directory)


def refused(text: str, directory: UnitDirectory) -> SourceError:
    with pytest.raises(SourceError) as info:
        parse(text, directory)
    return info.value


LEAD = '  - {no: 2, name: 加强污水治理, category: 1, lead: water, responsible: ["@local"]}'
OPEN_LEAD = '  - {no: 2, name: 加强污水治理, category: 1, lead: {to_fill: 牵头单位未定}, responsible: ["@local"]}'


def test_an_open_lead_falls_to_the_office_and_is_recorded(mini_text: str, mini_directory: UnitDirectory) -> None:
    text = replace_once(mini_text, LEAD, OPEN_LEAD)
    plan = parse(text, mini_directory)
    task = plan.task(2)
    assert task.lead == plan.joint_meeting.office == "office"
    [f] = plan.open_fields
    assert (f.at, f.field, f.what, f.fallback) == (("tasks", 1, "lead"), "task 2 lead", "牵头单位未定", "office")
    assert open_field_lines(plan, text, path=PATH) == [(line_of(text, "牵头单位未定"), f)]
    # The office owes the task in its lead's place; the towns still owe it as named.
    obs = [o for o in expand(plan, "c") if o.task_no == 2]
    assert sorted(o.unit_id for o in obs) == ["east", "office", "west"]
    assert {o.lead for o in obs} == {"office"}


def test_open_responsible_units_leave_only_the_lead(mini_text: str, mini_directory: UnitDirectory) -> None:
    text = replace_once(mini_text, 'lead: water, responsible: ["@local"]', "lead: water, responsible: {to_fill: 未定}")
    plan = parse(text, mini_directory)
    assert plan.task(2).responsible == ()
    assert [o.unit_id for o in expand(plan, "c") if o.task_no == 2] == ["water"]
    assert plan.open_field("tasks", 1, "responsible") is not None


def test_open_dates_run_on_their_years_bounds(mini_text: str, mini_directory: UnitDirectory) -> None:
    text = replace_once(mini_text, "issued: 2021-04-30", "issued: {to_fill: 未定}")
    text = replace_once(text, "start: 2021-05-01", "start: {to_fill: 未定, year: 2021}")
    text = replace_once(text, "due: 2021-12-31}", "due: {to_fill: 未定, year: 2021}}")
    plan = parse(text, mini_directory)
    rollout = plan.phases[0]
    assert (rollout.start, rollout.milestones[0].due) == (date(2021, 1, 1), date(2021, 12, 31))
    assert plan.issued == date(2021, 1, 1)  # the first phase's start
    assert {f.field: f.because for f in plan.open_fields} == {
        "issued": "the first phase's start",
        "phase rollout start": "the first day of 2021",
        "milestone basic due": "the last day of 2021",
    }


def test_open_text_fields_read_as_a_placeholder(mini_text: str, mini_directory: UnitDirectory) -> None:
    text = replace_once(mini_text, "notice_prefix: 测督", "notice_prefix: {to_fill: 文号前缀未定}")
    plan = parse(text, mini_directory)
    assert plan.notice_prefix == TO_FILL_TEXT


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        # A field the plan cannot run without and that has no principled fallback.
        ("name: 完善交通设施", "name: {to_fill: 名称未定}", "tasks.0.name: cannot be left to fill in"),
        ("office: office}", "office: {to_fill: 未定}}", "joint_meeting.office: cannot be left to fill in"),
        ("start: 2021-05-01", "start: {to_fill: 未定}", "phases.0.start: an open date needs `year:`"),
        ("lead: roads", "lead: {to_fill: 未定, year: 2021}", "tasks.0.lead: to_fill: `year` is for dates only"),
        ("lead: roads", "lead: {to_fill: 未定, by: 某}", "tasks.0.lead: to_fill: by: Extra inputs are not"),
        ("lead: roads", "lead: {to_fill: ''}", "tasks.0.lead: to_fill: to_fill: String should have at least 1"),
    ],
)
def test_a_marker_that_cannot_stand_is_refused_at_its_line(
    mini_text: str, mini_directory: UnitDirectory, old: str, new: str, words: str
) -> None:
    text = replace_once(mini_text, old, new)
    err = refused(text, mini_directory)
    assert err.line == line_of(text, new), str(err)
    assert err.message.startswith(words), err.message


# -- plans with nothing to fill in are unchanged ------------------------------------------------------------


def test_new_fields_stay_out_of_an_existing_plans_dump(plan: Plan) -> None:
    # The content hash is pinned in running campaigns and every audit row; payloads in the saved
    # replay histories carry the dump. Unused additions must not show in either.
    dump = plan.model_dump(mode="json")
    assert not {"open_fields", "supervision"} & dump.keys()
    assert all("ref" not in t for t in dump["tasks"])
    assert all("goal" not in p for p in dump["phases"])
    assert Plan.model_validate(dump) == plan
    assert Plan.model_validate_json(json.dumps(dump)).digest() == plan.digest()


def test_an_open_plan_round_trips_through_its_dump() -> None:
    # A campaign's input carries the plan as JSON: the open fields and fallbacks must survive it.
    text = (ROOT / "plans" / "changhe-2021.yaml").read_text(encoding="utf-8")
    units = ROOT / "plans" / "units" / "changhe.yaml"
    plan = parse_plan(text, path="p", directory=parse_directory(units.read_text(encoding="utf-8"), path="u"))
    again = Plan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert again.digest() == plan.digest()
    assert again.open_fields == plan.open_fields


def test_the_mini_plans_hash_is_unchanged(mini_text: str, mini_directory: UnitDirectory) -> None:
    # Its rehearsal's histories are saved in tests/replay: its dump is fixed.
    assert parse(mini_text, mini_directory).digest() == (
        "sha256:a4e0fdf63482d46e3732eda06558992d2af05010e9ebc8900fdf08aa84b407cd"
    )

"""The plans' own assessment schedules (rules.assessment_schedule): each kind's dates from the
score sheets, the monthly sample, and the rehearsal's scoring days before each round."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from unit_support import ROOT

from models.assessment import ScoreBook
from models.assessment_schedule import Every
from models.obligation import rehearsal_campaign_id
from models.plan import AssessmentKind, Plan, content_hash
from rules import calendar as cal
from rules.assessment_schedule import sample_key, sampled, scheduled_rounds, sheet_rounds
from rules.scoresheets import parse_scorebook
from rules.simulation import score_occasions

SHEETS = ROOT / "plans" / "scoresheets" / "suixian.yaml"


@pytest.fixture(scope="module")
def book(plan: Plan) -> ScoreBook:
    return parse_scorebook(SHEETS.read_text(encoding="utf-8"), path=str(SHEETS), plan=plan)


@pytest.fixture(scope="module")
def calendar() -> cal.WorkCalendar:
    return cal.WorkCalendar(cal.build(range(2021, 2024)))


def _rounds(book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar, kind: AssessmentKind) -> list[tuple[str, str]]:
    return [(o.round, o.on.isoformat()) for o in scheduled_rounds(book, plan, calendar) if o.kind == kind]


def test_routine_supervision_is_monthly_on_the_20th_or_the_next_working_day(
    book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar
) -> None:
    rounds = _rounds(book, plan, calendar, AssessmentKind.routine)
    # Every month of the work, 2021-05 (the rollout's start) to 2022-12 (the evaluation's end).
    assert [r for r, _ in rounds] == [f"2021-{m:02}" for m in range(5, 13)] + [f"2022-{m:02}" for m in range(1, 13)]
    days = dict(rounds)
    assert days["2021-05"] == "2021-05-20"  # a Thursday
    assert days["2021-06"] == "2021-06-21"  # the 20th is a Sunday
    assert days["2021-09"] == "2021-09-22"  # 中秋 (19–21 September): the next working day
    for _, d in rounds:
        assert calendar.is_working_day(date.fromisoformat(d))


def test_field_inspection_one_round_per_half_year_on_its_set_dates(
    book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar
) -> None:
    rounds = scheduled_rounds(book, plan, calendar)
    fi = [o for o in rounds if o.kind == AssessmentKind.field_inspection]
    assert [(o.round, o.on, o.since) for o in fi] == [
        ("2021-09-15", date(2021, 9, 15), date(2021, 5, 1)),
        ("2022-03-15", date(2022, 3, 15), date(2021, 9, 16)),
        ("2022-09-15", date(2022, 9, 15), date(2022, 3, 16)),
    ]
    halves = {(o.on.year, (o.on.month - 1) // 6) for o in fi}
    assert len(halves) == len(fi)


def test_annual_review_for_2021_and_2022_on_the_last_working_day(
    book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar
) -> None:
    assert _rounds(book, plan, calendar, AssessmentKind.annual_review) == [
        ("2021", "2021-12-31"),
        ("2022", "2022-12-30"),  # 2022-12-31 is a Saturday
    ]


def test_acceptance_is_not_a_scheduled_round_the_milestones_hold_it(
    book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar
) -> None:
    assert not _rounds(book, plan, calendar, AssessmentKind.acceptance)
    # ... and the rehearsal still scores both acceptances and their re-checks.
    acc = [o for o in score_occasions(book, plan, calendar) if o.milestone is not None]
    assert {o.milestone for o in acc} == {"basic", "model"}


def test_quarterly_and_half_yearly_rounds_and_until(book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar) -> None:
    sheet = book.sheet("annual_review").model_copy(update={"every": Every.quarter, "until": date(2022, 6, 30)})
    assert [(o.round, o.on.isoformat()) for o in sheet_rounds(sheet, plan, calendar)] == [
        ("2021-Q2", "2021-06-30"),
        ("2021-Q3", "2021-09-30"),
        ("2021-Q4", "2021-12-31"),
        ("2022-Q1", "2022-03-31"),
        ("2022-Q2", "2022-06-30"),
    ]
    half = book.sheet("annual_review").model_copy(update={"every": Every.half_year, "day": 15})
    assert [(o.round, o.on.isoformat(), o.since.isoformat()) for o in sheet_rounds(half, plan, calendar)] == [
        ("2021-H1", "2021-06-15", "2021-05-01"),
        ("2021-H2", "2021-12-15", "2021-07-01"),
        ("2022-H1", "2022-06-15", "2022-01-01"),
        ("2022-H2", "2022-12-15", "2022-07-01"),
    ]


def test_the_monthly_sample_is_six_towns_seeded_by_campaign_and_round(book: ScoreBook, plan: Plan) -> None:
    sheet = book.sheet("routine")
    towns = [u.id for u in book.units_in_scope(plan.directory)]
    a = sampled(sheet, towns, "c1", "2021-05")
    assert len(a) == 6 and set(a) <= set(towns)
    assert a == sampled(sheet, towns, "c1", "2021-05")
    assert list(a) == [t for t in towns if t in a]  # directory order
    months = {sampled(sheet, towns, "c1", f"2021-{m:02}") for m in range(5, 13)}
    assert len(months) > 1  # not the same towns every month
    assert sampled(book.sheet("annual_review"), towns, "c1", "2021") == tuple(towns)


def test_a_rehearsal_samples_the_same_towns_for_the_same_seed_whenever_it_runs(book: ScoreBook, plan: Plan) -> None:
    """The rehearsal's id carries the moment it ran: drawn from it, 日常督导's passes differed run
    to run for one seed (114, 116, 115 of 120)."""
    sheet = book.sheet("routine")
    towns = [u.id for u in book.units_in_scope(plan.directory)]
    first = datetime(2026, 12, 4, 8, 37, 56, tzinfo=UTC)
    run1 = rehearsal_campaign_id("suixian-2021", 7, first, "1a2b")
    run2 = rehearsal_campaign_id("suixian-2021", 7, first + timedelta(minutes=7), "9f0e")
    other_seed = rehearsal_campaign_id("suixian-2021", 8, first, "1a2b")
    months = [f"2021-{m:02}" for m in range(5, 13)]
    assert [sampled(sheet, towns, run1, m) for m in months] == [sampled(sheet, towns, run2, m) for m in months]
    assert [sampled(sheet, towns, run1, m) for m in months] != [sampled(sheet, towns, other_seed, m) for m in months]
    # A live campaign's own id draws its samples, as before.
    assert sample_key("suixian-2021") == "suixian-2021"


def test_the_rehearsal_scores_each_round_before_it_is_held(
    book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar
) -> None:
    rounds = scheduled_rounds(book, plan, calendar)
    occasions = score_occasions(book, plan, calendar, rounds)
    by_round = {(o.sheet_id, o.round): o for o in occasions if o.round is not None}
    assert len(by_round) == len(rounds)
    for r in rounds:
        o = by_round[(r.sheet_id, r.round)]
        assert r.since <= o.on <= r.on
        if r.kind == AssessmentKind.field_inspection:
            assert o.on == r.on  # its scores carry the set date
    # The annual review is no longer scored once at the end of the evaluation phase only.
    assert [o.on.isoformat() for o in occasions if o.sheet_id == "annual_review"] == ["2021-12-17", "2022-12-16"]


def test_a_book_without_schedules_keeps_the_hash_it_had_before_them(book: ScoreBook) -> None:
    bare = book.model_copy(
        update={"sheets": tuple(s.model_copy(update={"every": None, "day": None, "sample": None}) for s in book.sheets)}
    )
    data = bare.model_dump(mode="json")
    del data["scored"]
    for s in data["sheets"]:
        for k in ("every", "day", "sample", "until"):
            del s[k]
    assert bare.digest() == content_hash(data)
    assert book.digest() != bare.digest()  # a schedule is part of what a score was entered against


def test_a_period_the_plan_ends_in_is_held_by_the_plans_end(
    book: ScoreBook, plan: Plan, calendar: cal.WorkCalendar
) -> None:
    short = plan.model_copy(
        update={
            "phases": tuple(
                p.model_copy(update={"end": date(2022, 7, 31)}) if p.name.value == "evaluation" else p
                for p in plan.phases
            )
        }
    )
    rounds = [(o.round, o.on.isoformat()) for o in sheet_rounds(book.sheet("annual_review"), short, calendar)]
    assert rounds == [("2021", "2021-12-31"), ("2022", "2022-07-29")]  # 07-31 is a Sunday
    routine = sheet_rounds(book.sheet("routine"), short, calendar)
    assert routine[-1].round == "2022-07" and routine[-1].on == date(2022, 7, 20)

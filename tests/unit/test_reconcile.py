"""月度对账: counts, 序时进度, colours, ranking, laggards and commended units, from records alone."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from models.documents import Colour
from models.obligation import ObligationState
from models.plan import UnitKind
from models.reconciliation import ObligationRecord
from rules.calendar import WorkCalendar
from rules.reconcile import expected_progress, reconcile

ASSIGNED, DUE = date(2021, 5, 6), date(2021, 12, 31)
KINDS = {"east": UnitKind.town, "west": UnitKind.town, "north": UnitKind.town, "roads": UnitKind.agency}


def rec(
    unit: str,
    n: int,
    *,
    state: ObligationState = ObligationState.assigned,
    progress: int = 0,
    completed_on: date | None = None,
    assigned: date = ASSIGNED,
    due: date = DUE,
) -> ObligationRecord:
    return ObligationRecord(
        id=f"c/rollout/{unit}/T{n:02d}",
        unit_id=unit,
        unit_name={"east": "东镇", "west": "西镇", "north": "北镇", "roads": "县交通局"}[unit],
        unit_kind=KINDS[unit],
        title=f"任务{n}",
        task_no=n,
        lead="roads",
        assigned=assigned,
        due=due,
        state=state,
        progress=100 if state is ObligationState.completed else progress,
        completed_on=completed_on,
    )


def done(unit: str, n: int, on: date, **kw: date) -> ObligationRecord:
    return rec(unit, n, state=ObligationState.completed, completed_on=on, **kw)


def test_expected_progress_counts_working_days_from_assignment_to_due(work_calendar: WorkCalendar) -> None:
    assert expected_progress(ASSIGNED, DUE, date(2021, 5, 1), work_calendar) == 0.0  # not yet assigned
    assert expected_progress(ASSIGNED, DUE, ASSIGNED, work_calendar) == 0.0
    assert expected_progress(ASSIGNED, DUE, DUE, work_calendar) == 100.0
    assert expected_progress(ASSIGNED, DUE, date(2022, 1, 5), work_calendar) == 100.0
    span = work_calendar.working_days_between(ASSIGNED, DUE)
    # 国庆 (10-01 … 10-07) holds no working days: the share stands still across it.
    before = expected_progress(ASSIGNED, DUE, date(2021, 9, 30), work_calendar)
    assert before == expected_progress(ASSIGNED, DUE, date(2021, 10, 7), work_calendar)
    assert before == round(100 * work_calendar.working_days_between(ASSIGNED, date(2021, 9, 30)) / span, 1)
    # Assigned on its due date (a planning-phase work plan): all of it is due at once.
    assert expected_progress(DUE, DUE, date(2021, 12, 30), work_calendar) == 0.0
    assert expected_progress(DUE, DUE, DUE, work_calendar) == 100.0


def test_counts_colours_ranking_laggards_and_commended(work_calendar: WorkCalendar) -> None:
    as_of = date(2022, 1, 6)
    records = [
        done("east", 1, date(2021, 11, 1)),
        done("east", 2, date(2021, 12, 31)),  # on the due date: on time
        rec("east", 3, due=date(2022, 3, 31), progress=60),  # not due, ahead of 序时进度
        done("north", 1, date(2022, 1, 4)),  # late
        rec("north", 2, due=date(2022, 3, 31)),  # not due, behind
        rec("west", 1, progress=50),
        rec("west", 2),
        rec("west", 3),
        done("roads", 1, date(2021, 12, 1)),
    ]
    r = reconcile(records, as_of, work_calendar, red_at=3)
    u = {t.unit_id: t for t in r.units}
    assert [(t.unit_id, t.rank) for t in r.units] == [("roads", 1), ("east", 2), ("north", 3), ("west", 4)]
    assert (u["east"].total, u["east"].due, u["east"].done, u["east"].on_time, u["east"].late) == (3, 2, 2, 2, 0)
    assert (u["north"].done, u["north"].on_time, u["north"].late, u["north"].overdue) == (1, 0, 1, 0)
    assert (u["west"].due, u["west"].done, u["west"].overdue) == (3, 0, 3)
    assert {k: t.colour for k, t in u.items()} == {
        "east": Colour.green,
        "north": Colour.yellow,  # behind 序时进度 on its open task
        "west": Colour.red,
        "roads": Colour.green,
    }
    assert u["north"].behind and not u["east"].behind
    assert r.laggards == ("west",)
    assert r.commended == ("roads", "east")  # north completed late
    assert (r.totals.total, r.totals.done, r.totals.overdue, r.totals.units) == (9, 4, 3, 4)
    assert (r.towns.units, r.towns.total, r.agencies.units, r.agencies.total) == (3, 8, 1, 1)
    checks = {c.id: c for c in r.obligations}
    west1 = checks["c/rollout/west/T01"]
    assert (west1.overdue, west1.overdue_working_days, west1.colour) == (True, 3, Colour.red)  # 4, 5, 6 Jan
    assert checks["c/rollout/north/T01"].colour is Colour.yellow
    assert checks["c/rollout/east/T03"].colour is Colour.green


def test_a_unit_with_fewer_than_red_at_overdue_is_yellow_not_a_laggard(work_calendar: WorkCalendar) -> None:
    r = reconcile([rec("west", 1), done("west", 2, date(2021, 6, 1))], date(2022, 1, 6), work_calendar, red_at=3)
    assert (r.units[0].colour, r.laggards, r.commended) == (Colour.yellow, (), ())


states = st.sampled_from(list(ObligationState))
days = st.dates(min_value=date(2021, 5, 1), max_value=date(2022, 12, 31))


@given(
    st.lists(st.tuples(st.sampled_from(list(KINDS)), states, days, days, st.integers(0, 100)), min_size=1, max_size=30),
    days,
)
def test_counts_add_up_for_any_records(
    work_calendar: WorkCalendar, rows: list[tuple[str, ObligationState, date, date, int]], as_of: date
) -> None:
    records = [
        rec(
            unit,
            i,
            state=state,
            progress=progress,
            due=due,
            completed_on=done_on if state is ObligationState.completed else None,
        )
        for i, (unit, state, due, done_on, progress) in enumerate(rows)
    ]
    r = reconcile(records, as_of, work_calendar, red_at=3)
    assert r.totals.total == len(records)
    assert r.totals.done == sum(x.state is ObligationState.completed for x in records)
    assert r.totals.overdue == sum(x.state is not ObligationState.completed and x.due < as_of for x in records)
    for t in r.units:
        assert t.on_time + t.late == t.done and t.done + t.overdue <= t.total
        assert 0 <= t.expected_progress <= 100 and 0 <= t.actual_progress <= 100
    assert sorted(t.rank for t in r.units) == list(range(1, len(r.units) + 1))
    assert set(r.laggards) == {t.unit_id for t in r.units if t.overdue >= 3}

"""月度对账: count each unit's obligations as of a date, measure them against 序时进度, rank them.

Pure: the same records, date and calendar always give the same reconciliation. The counts are
plain counts of the records (the bulletin must agree with the obligations table to the unit):

- done: completed; on time: completed on or before the due date; late: completed after it;
- due: the due date is before the as-of date; overdue: due and not completed (逾期未办结);
- 序时进度 (expected progress) of an obligation: the share of the official working days from its
  assignment to its due date that have elapsed by the as-of date; its actual progress is what
  the unit reported (100 once completed). A unit's are the means over its obligations already
  assigned.

Colours: a unit is red with `red_at` or more overdue obligations (it is criticised and ordered
to rectify), yellow with any overdue or progress `behind_points` or more behind 序时进度, green
otherwise. Ranking: fewer overdue first, then the higher completion rate, then the further
ahead of 序时进度, then unit id. Commended: the first `commend_at_most` units in rank order that
are green, have completed something and nothing late.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from models.documents import Colour
from models.obligation import ObligationState
from models.reconciliation import ObligationCheck, ObligationRecord, Reconciliation, Totals, UnitTally
from rules.calendar import WorkCalendar

BEHIND_POINTS = 20.0
"""Percentage points behind 序时进度 that make an obligation or a unit yellow."""
COMMEND_AT_MOST = 3


def expected_progress(assigned: date, due: date, as_of: date, calendar: WorkCalendar) -> float:
    """序时进度 as a percentage: 0 before assignment, 100 from the due date on, and in between
    the working days elapsed since assignment over those from assignment to due."""
    if as_of < assigned:
        return 0.0
    if as_of >= due:
        return 100.0
    span = calendar.working_days_between(assigned, due)
    if span <= 0:
        return 100.0
    elapsed = calendar.working_days_between(assigned, as_of)
    return round(100.0 * min(max(elapsed, 0), span) / span, 1)


def check(r: ObligationRecord, as_of: date, calendar: WorkCalendar, *, behind_points: float) -> ObligationCheck:
    done = r.state is ObligationState.completed
    on_time = done and r.completed_on is not None and r.completed_on <= r.due
    overdue = not done and r.due < as_of
    expected = expected_progress(r.assigned, r.due, as_of, calendar)
    actual = 100.0 if done else float(r.progress)
    if overdue:
        colour = Colour.red
    elif (done and not on_time) or (not done and expected - actual >= behind_points):
        colour = Colour.yellow
    else:
        colour = Colour.green
    return ObligationCheck(
        id=r.id,
        done=done,
        on_time=on_time,
        late=done and not on_time,
        overdue=overdue,
        overdue_working_days=max(0, calendar.working_days_between(r.due, as_of)) if overdue else 0,
        expected_progress=expected,
        actual_progress=actual,
        colour=colour,
    )


def _totals(tallies: Sequence[UnitTally]) -> Totals:
    return Totals(
        units=len(tallies),
        total=sum(t.total for t in tallies),
        due=sum(t.due for t in tallies),
        done=sum(t.done for t in tallies),
        on_time=sum(t.on_time for t in tallies),
        late=sum(t.late for t in tallies),
        overdue=sum(t.overdue for t in tallies),
    )


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def reconcile(
    records: Sequence[ObligationRecord],
    as_of: date,
    calendar: WorkCalendar,
    *,
    red_at: int,
    behind_points: float = BEHIND_POINTS,
    commend_at_most: int = COMMEND_AT_MOST,
) -> Reconciliation:
    """Every unit's tally as of `as_of`, ranked; laggards (red) and commended units."""
    checks = [check(r, as_of, calendar, behind_points=behind_points) for r in records]
    per: dict[str, list[tuple[ObligationRecord, ObligationCheck]]] = defaultdict(list)
    for r, c in zip(records, checks, strict=True):
        per[r.unit_id].append((r, c))
    unranked = []
    for unit_id, pairs in per.items():
        first = pairs[0][0]
        started = [c for r, c in pairs if r.assigned <= as_of]
        expected = _mean([c.expected_progress for c in started])
        actual = _mean([c.actual_progress for c in started])
        overdue = sum(c.overdue for _, c in pairs)
        done = sum(c.done for _, c in pairs)
        behind = expected - actual >= behind_points
        colour = Colour.red if overdue >= red_at else Colour.yellow if overdue or behind else Colour.green
        unranked.append(
            UnitTally(
                unit_id=unit_id,
                unit_name=first.unit_name,
                kind=first.unit_kind,
                total=len(pairs),
                due=sum(r.due < as_of for r, _ in pairs),
                done=done,
                on_time=sum(c.on_time for _, c in pairs),
                late=sum(c.late for _, c in pairs),
                overdue=overdue,
                rate=round(done / len(pairs), 4),
                expected_progress=expected,
                actual_progress=actual,
                behind=behind,
                colour=colour,
                rank=1,
            )
        )
    ordered = sorted(
        unranked, key=lambda t: (t.overdue, -t.rate, -(t.actual_progress - t.expected_progress), t.unit_id)
    )
    ranked = tuple(t.model_copy(update={"rank": i}) for i, t in enumerate(ordered, start=1))
    commended = [t.unit_id for t in ranked if t.colour is Colour.green and t.done and not t.late]
    return Reconciliation(
        as_of=as_of,
        units=ranked,
        obligations=tuple(checks),
        totals=_totals(ranked),
        towns=_totals([t for t in ranked if t.kind.is_local]),
        agencies=_totals([t for t in ranked if not t.kind.is_local]),
        laggards=tuple(t.unit_id for t in ranked if t.colour is Colour.red),
        commended=tuple(commended[:commend_at_most]),
    )

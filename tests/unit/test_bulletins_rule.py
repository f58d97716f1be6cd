"""rules.bulletins: the monthly cycle's stopping predicate."""

from __future__ import annotations

from datetime import date

from models.obligation import ObligationState
from models.plan import UnitKind
from models.reconciliation import ObligationRecord
from rules.bulletins import bulletins_done, open_obligations


def rec(n: int, state: ObligationState) -> ObligationRecord:
    return ObligationRecord(
        id=f"o{n}",
        unit_id="u",
        unit_name="某镇",
        unit_kind=next(iter(UnitKind)),
        title="t",
        lead="l",
        assigned=date(2021, 5, 1),
        due=date(2021, 6, 1),
        state=state,
        progress=100 if state is ObligationState.completed else 0,
    )


def test_open_counts_everything_not_completed_or_withdrawn() -> None:
    recs = [rec(i, s) for i, s in enumerate(ObligationState)]
    assert open_obligations(recs) == len(ObligationState) - 2
    assert open_obligations([rec(1, ObligationState.completed), rec(2, ObligationState.withdrawn)]) == 0


def test_no_records_is_not_closed() -> None:
    assert open_obligations([]) is None
    assert not bulletins_done(open_obligations([]))


def test_done_only_when_nothing_is_open() -> None:
    assert bulletins_done(0)
    assert not bulletins_done(1)
    assert not bulletins_done(None)  # a history recorded before the count: to the plan's end

"""When the monthly 通报 stop: at the plan's end, or once the campaign's work is closed,
whichever comes first (a plan running to 2030 need not bulletin eight idle years)."""

from __future__ import annotations

from collections.abc import Iterable

from models.obligation import ObligationState
from models.reconciliation import ObligationRecord

CLOSED = frozenset({ObligationState.completed, ObligationState.withdrawn})
"""办结, or taken away by an amendment: nothing left for a bulletin to report on."""


def open_obligations(records: Iterable[ObligationRecord]) -> int | None:
    """Obligations still open on the day of reconciliation; None before any was registered
    (no work yet is not work closed)."""
    states = [r.state for r in records]
    return sum(1 for s in states if s not in CLOSED) if states else None


def bulletins_done(open_count: int | None) -> bool:
    """True once the month's cycle found nothing open. None is a result recorded before the
    count existed (a saved history): unknown, so the cycle goes on to the plan's end."""
    return open_count == 0

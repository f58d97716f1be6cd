"""月度对账: every obligation as the read side has it on the day, and what the month's 通报 makes of it.

`rules.reconcile` turns records into a `Reconciliation`; the monthly activity reads the records
from the obligations table and publishes the result as the bulletin's body and documents.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from models.documents import Colour
from models.frozen import Frozen
from models.obligation import ObligationState
from models.plan import UnitKind


class ObligationRecord(Frozen):
    """One obligation on the day of reconciliation: the obligations table's row, nothing derived."""

    id: str
    unit_id: str
    unit_name: str
    unit_kind: UnitKind
    title: str
    task_no: int | None = None
    lead: str
    assigned: date
    due: date
    state: ObligationState
    progress: int = Field(ge=0, le=100)
    completed_on: date | None = None
    """Plan date (Asia/Shanghai) of 办结."""
    reminders: int = 0
    escalation_level: int = 0


class ObligationCheck(Frozen):
    """What reconciliation finds for one obligation."""

    id: str
    done: bool
    on_time: bool
    """Completed on or before its due date."""
    late: bool
    """Completed after its due date (逾期办结)."""
    overdue: bool
    """Past its due date and not completed (逾期未办结)."""
    overdue_working_days: int = Field(ge=0)
    """Official working days past due, while not completed."""
    expected_progress: float
    """序时进度: the share of the working days from assignment to due that have elapsed."""
    actual_progress: float
    """Reported progress (100 once completed)."""
    colour: Colour


class UnitTally(Frozen):
    """One unit's line in the month's bulletin."""

    unit_id: str
    unit_name: str
    kind: UnitKind
    total: int
    due: int
    """Obligations whose due date has passed."""
    done: int
    on_time: int
    late: int
    overdue: int
    rate: float
    """done / total."""
    expected_progress: float
    """Mean 序时进度 over the unit's obligations already assigned (0 when none is)."""
    actual_progress: float
    """Mean reported progress over the same obligations."""
    behind: bool
    """Actual progress lags 序时进度 by the bulletin's margin or more."""
    colour: Colour
    rank: int = Field(ge=1)


class Totals(Frozen):
    units: int = 0
    total: int = 0
    due: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0


class Reconciliation(Frozen):
    as_of: date
    units: tuple[UnitTally, ...]
    """In rank order."""
    obligations: tuple[ObligationCheck, ...]
    """In the records' order."""
    totals: Totals
    towns: Totals
    """The 各镇、场、景区 together."""
    agencies: Totals
    """County agencies (and the office, where it holds obligations) together."""
    laggards: tuple[str, ...]
    """通报批评 (and 责令整改): red units' ids, in rank order."""
    commended: tuple[str, ...]
    """表扬: unit ids, in rank order."""

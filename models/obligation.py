"""Obligations (任务清单): one (task or duty, unit, phase, milestone) duty with a due date."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.frozen import Frozen
from models.plan import PhaseKind


class UnitRole(StrEnum):
    lead = "lead"  # 牵头单位
    responsible = "responsible"  # 责任单位


class ObligationState(StrEnum):
    assigned = "assigned"  # 交办
    acknowledged = "acknowledged"  # 签收
    in_progress = "in_progress"  # 进展上报
    completed = "completed"  # 办结
    withdrawn = "withdrawn"  # 撤销: a plan amendment took it away


class ObligationSpec(Frozen):
    """What the plan asks of one unit: fixed at launch."""

    id: str
    phase: PhaseKind
    unit_id: str
    unit_name: str
    unit_kind: str
    role: UnitRole
    task_no: int | None = None
    category: int | None = None
    duty: str | None = None
    milestone: str | None = None
    title: str
    lead: str
    """The 牵头单位 that overdue work escalates to (the office for duties)."""
    assigned: date
    due: date


class Obligation(BaseModel):
    """An obligation as a unit workflow holds it: the spec plus what has happened since."""

    model_config = ConfigDict(extra="forbid")

    spec: ObligationSpec
    state: ObligationState = ObligationState.assigned
    acknowledged_at: datetime | None = None
    completed_at: datetime | None = None
    progress: int = 0
    progress_text: str | None = None
    reminders: int = 0
    escalation_level: int = 0
    notices: int = 0
    extensions: int = 0
    extended_due: date | None = None
    pending_extension: date | None = None
    """A 延期申请 waiting for the office: the due date asked for."""
    evaluation: str | None = None
    """评价 by the office: accepted, or returned (which reopens the work)."""
    evidence: list[str] = Field(default_factory=list)
    """SHA-256 of the evidence files attached so far."""
    """The due date an approved 延期申请 moved it to; the plan's own stays in `spec.due`."""
    fired: list[str] = Field(default_factory=list)
    """Occurrence keys of rule firings already handled, so a firing is acted on once."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def due(self) -> date:
        return self.extended_due or self.spec.due

    @property
    def done(self) -> bool:
        return self.state is ObligationState.completed

    @property
    def live(self) -> bool:
        """Still owed: neither completed nor withdrawn by a plan amendment."""
        return self.state not in (ObligationState.completed, ObligationState.withdrawn)

    def facts_base(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "progress": self.progress,
            "times_reminded": self.reminders,
            "escalation_level": self.escalation_level,
            "role": self.spec.role.value,
            "unit_kind": self.spec.unit_kind,
            "phase": self.spec.phase.value,
            "task_no": self.spec.task_no or 0,
            "category": self.spec.category or 0,
            "milestone": self.spec.milestone or "",
            "extensions": self.extensions,
        }


def unit_workflow_id(campaign_id: str, phase: PhaseKind | str, unit_id: str) -> str:
    return f"{campaign_id}/{PhaseKind(phase).value}/{unit_id}"


def obligation_id(campaign_id: str, phase: PhaseKind, unit_id: str, item: str) -> str:
    return f"{unit_workflow_id(campaign_id, phase, unit_id)}/{item}"


def workflow_id_of(obligation: str) -> str:
    """The unit workflow that holds an obligation: its id without the last segment."""
    parts = obligation.split("/")
    if len(parts) != 4 or not all(parts):
        raise ValueError(
            f"{obligation!r} is not an obligation id (CAMPAIGN/PHASE/UNIT/ITEM, e.g. "
            "suixian-2021/rollout/gaocheng/T03-basic)"
        )
    if parts[1] not in {p.value for p in PhaseKind}:
        raise ValueError(f"{obligation!r}: {parts[1]!r} is not a phase ({', '.join(p.value for p in PhaseKind)})")
    return "/".join(parts[:3])


REHEARSAL_ID = re.compile(r"^(?P<stem>.+-rehearsal-s\d+)-\d{14}-[0-9a-f]{4}$")


def rehearsal_campaign_id(plan_id: str, seed: int, at: datetime, tag: str) -> str:
    """A rehearsal's campaign id: its plan and seed (its stem), then when it ran and a tag, so that
    rehearsals never share an id."""
    return f"{plan_id}-rehearsal-s{seed}-{at:%Y%m%d%H%M%S}-{tag}"


def rehearsal_stem(campaign_id: str) -> str | None:
    """The plan-and-seed part of a rehearsal's id (what the same seed shares on every run); None
    for a campaign that is not a rehearsal."""
    m = REHEARSAL_ID.match(campaign_id)
    return m["stem"] if m else None

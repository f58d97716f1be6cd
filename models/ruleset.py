"""The rule set's schema: what a secretariat writes in YAML, validated before it can run.

Conditions are CEL text here; rules/ compiles them. Roles and triggers are closed sets, so an
unknown one is refused when the file is read rather than when a deadline comes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.plan import Frozen, content_hash

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]*$", max_length=80)]


class TriggerKind(StrEnum):
    before_due = "before_due"  # N official working days before the due date
    at_due = "at_due"
    after_due = "after_due"  # N official working days after the due date


class Role(StrEnum):
    unit = "unit"  # the responsible unit itself
    lead = "lead"  # the task's 牵头单位
    office = "office"  # 联席会议办公室
    convener = "convener"  # 召集人


class ActionKind(StrEnum):
    remind = "remind"  # 催办
    escalate = "escalate"  # 督办


class Channel(StrEnum):
    inbox = "inbox"


class Trigger(Frozen):
    kind: TriggerKind
    working_days: int = Field(default=0, ge=0, le=250)

    @model_validator(mode="after")
    def _at_due_has_no_days(self) -> Trigger:
        if self.kind is TriggerKind.at_due and self.working_days:
            raise ValueError("an at_due trigger takes no working_days")
        return self


class Action(Frozen):
    kind: ActionKind
    to: Role = Role.unit
    level: int = Field(default=0, ge=0, le=9)
    notice: bool = False
    """Escalations only: also issue a numbered 督办通知 to the unit."""
    channels: tuple[Channel, ...] = (Channel.inbox,)

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.kind is ActionKind.remind and (self.level or self.notice):
            raise ValueError("a reminder has no escalation level and issues no notice")
        if self.kind is ActionKind.escalate and self.level < 1:
            raise ValueError("an escalation needs a level of 1 or more")
        return self


class Rule(Frozen):
    id: RuleId
    description: str = ""
    trigger: Trigger
    when: str = "true"
    """A CEL condition over the obligation's facts (see rules.facts.FACTS)."""
    action: Action


class Monthly(Frozen):
    """月度对账 → 通报 → 责令整改, once a month."""

    working_day: int = Field(default=3, ge=1, le=10)
    rectify_if_overdue_at_least: int = Field(default=3, ge=1)
    rectification_working_days: int = Field(default=10, ge=1)


class RuleSet(Frozen):
    id: RuleId
    version: int = Field(ge=1)
    description: str = ""
    time_of_day: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    rules: tuple[Rule, ...]
    monthly: Monthly = Monthly()

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule id {sorted(dup)[0]!r}")
        return self

    def digest(self) -> str:
        return content_hash(self.model_dump(mode="json"))

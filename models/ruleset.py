"""The rule set's schema: what a secretariat writes in YAML, validated before it can run.

Conditions are CEL text here; rules/ compiles them. Triggers, events, roles, actions and channels
are closed sets, so an unknown one is refused when the file is read rather than when a deadline
comes. Every field added after version 1 has a default, so a rule set pinned in a running
campaign's history still reads back the same (and hashes the same: see `digest`).
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from models.delivery import DeliveryChannel, QuietHours
from models.frozen import Frozen
from models.plan import content_hash

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]*$", max_length=80)]
HourMinute = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


MAX_CONDITION = 2_000
"""Characters in one rule's condition: the CEL library itself panics on some 100,000-character ones."""
MAX_RULES = 500
"""Rules in one set: the shipped ones have 10 or so; more is a mistake or an attack on the engine."""


class TriggerKind(StrEnum):
    before_due = "before_due"  # N official working days before the due date
    at_due = "at_due"
    after_due = "after_due"  # N official working days after the due date
    not_acknowledged = "not_acknowledged"  # N working days after assignment, still not signed for
    monthly = "monthly"  # the Nth working day of every month (月度对账) while the obligation runs
    milestone = "milestone"  # a plan milestone's date (基础型, 示范型), N working days after it
    event = "event"  # when something happens to the obligation


class Event(StrEnum):
    acknowledged = "acknowledged"  # 签收
    progress_reported = "progress_reported"  # 进展上报
    extension_approved = "extension_approved"  # 延期申请获批
    rectification_overdue = "rectification_overdue"  # 整改逾期


class Role(StrEnum):
    """Who an action is addressed to: the escalation ladder's rungs, bottom to top."""

    unit = "unit"  # the responsible unit itself
    lead = "lead"  # the task's 牵头单位
    office = "office"  # 联席会议办公室 / 领导小组办公室
    convener = "convener"  # 召集人


class ActionKind(StrEnum):
    remind = "remind"  # 催办
    escalate = "escalate"  # 督办, up the ladder
    notice = "notice"  # 督办通知: a numbered formal notice to the unit
    rectify = "rectify"  # 责令整改, with its own due date
    bulletin = "bulletin"  # 列入通报: named in the next monthly bulletin


Channel = DeliveryChannel
"""An action's channels: inbox (written at once), email and webhook (kept to quiet hours)."""


class DeadlineShift(StrEnum):
    """Where a due date that falls on a rest day moves."""

    next_working_day = "next_working_day"
    previous_working_day = "previous_working_day"
    none = "none"


class Trigger(Frozen):
    kind: TriggerKind
    working_days: int = Field(default=0, ge=-250, le=250)
    """before/after_due, not_acknowledged: how many; monthly: which working day of the month
    (1 = the first); milestone: working days after the milestone (negative: before it)."""
    milestone: str | None = None
    event: Event | None = None

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        k = self.kind
        if k is not TriggerKind.milestone and self.working_days < 0:
            raise ValueError(f"a {k} trigger counts working days from 0 up; only a milestone trigger goes back")
        if k in (TriggerKind.at_due, TriggerKind.event) and self.working_days:
            raise ValueError(f"an {k} trigger takes no working_days")
        if k is TriggerKind.monthly and not 1 <= self.working_days <= 10:
            raise ValueError("a monthly trigger names the working day of the month, 1 to 10")
        if (k is TriggerKind.milestone) != (self.milestone is not None):
            raise ValueError("a milestone trigger names its milestone (basic, model, …), and only it does")
        if (k is TriggerKind.event) != (self.event is not None):
            raise ValueError("an event trigger names its event, and only it does")
        return self


class Action(Frozen):
    kind: ActionKind
    to: Role = Role.unit
    level: int = Field(default=0, ge=0, le=9)
    notice: bool = False
    """Escalations only: also issue a numbered 督办通知 to the unit."""
    working_days: int | None = Field(default=None, ge=1, le=120)
    """Rectification orders only: the working days the unit has to rectify."""
    channels: tuple[Channel, ...] = (Channel.inbox,)

    @model_validator(mode="after")
    def _shape(self) -> Action:
        k = self.kind
        if k is ActionKind.escalate and self.level < 1:
            raise ValueError("an escalation needs a level of 1 or more")
        if k is not ActionKind.escalate and (self.level or self.notice):
            raise ValueError(f"a {k} action has no escalation level and sets no notice flag")
        if (k is ActionKind.rectify) != (self.working_days is not None):
            raise ValueError("a rectify action gives the working days to rectify in, and only it does")
        if not self.channels:
            raise ValueError("an action needs at least one channel")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("a channel is listed twice")
        return self


class Rule(Frozen):
    id: RuleId
    description: str = ""
    trigger: Trigger
    when: str = Field(default="true", max_length=MAX_CONDITION)
    """A CEL condition over the obligation's facts (see rules.engine.FACTS)."""
    action: Action


class Monthly(Frozen):
    """月度对账 → 通报 → 责令整改, once a month."""

    working_day: int = Field(default=3, ge=1, le=10)
    rectify_if_overdue_at_least: int = Field(default=3, ge=1)
    rectification_working_days: int = Field(default=10, ge=1)


class Extensions(Frozen):
    """延期申请 limits."""

    max_per_obligation: int = Field(default=1, ge=0, le=5)
    not_after_level: int = Field(default=2, ge=1, le=9)
    """No extension once an obligation has been escalated to this level."""
    max_working_days: int = Field(default=40, ge=1, le=250)


class EvidencePolicy(Frozen):
    """What a unit may attach to a report: checked when the Update arrives."""

    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    types: tuple[str, ...] = ("pdf", "jpg", "jpeg", "png", "docx", "doc", "xlsx", "xls", "ofd", "zip")
    """File name extensions accepted (lower case, no dot)."""


class NoticeSeverity(Frozen):
    """三色督办单: whether a 督办通知 is blue, yellow or red (`rules.severity.severity`).

    A notice takes the most pressing colour any of three measures reaches: how late the latest
    item it lists is (official working days past due), how many 督办通知 the unit has already
    had (for any item), and the escalation level its obligation has reached. With the defaults a first notice under ten
    working days late is blue; a second notice, ten working days late, or an escalation to level
    3 (the convener's rung of the default ladder) is yellow; a third notice or twenty working
    days late is red (level 4 is past the default ladder: the level alone never makes it red).
    """

    yellow_days_overdue: int = Field(default=10, ge=1)
    red_days_overdue: int = Field(default=20, ge=1)
    yellow_notices: int = Field(default=1, ge=1)
    """Notices already issued to the unit (any item) from which a new one is yellow."""
    red_notices: int = Field(default=2, ge=1)
    yellow_level: int = Field(default=3, ge=1, le=9)
    red_level: int = Field(default=4, ge=1, le=9)

    @model_validator(mode="after")
    def _ordered(self) -> NoticeSeverity:
        for what in ("days_overdue", "notices", "level"):
            yellow, red = getattr(self, f"yellow_{what}"), getattr(self, f"red_{what}")
            if red < yellow:
                raise ValueError(f"red_{what} {red} is below yellow_{what} {yellow}")
        return self


class Rectification(Frozen):
    """责令整改 as an office issues them: one order per unit, each with its measure.

    A unit's first order is the first measure; every earlier order of the unit left unanswered
    past its due date moves its next order one measure up (默认：责令整改 → 通报批评 → 约谈). A unit
    has one open order: ordered again while it is open, the unit has the items added to it, and
    its measure climbs one rung if it was not answering it (its due date passed, no report)."""

    measures: tuple[str, ...] = Field(default=("责令整改", "通报批评", "约谈"), min_length=1, max_length=9)
    send_backs: int = Field(default=2, ge=0, le=9)
    """How many times the office sends a failing 整改报告 back for a new round; the next report that
    fails closes the order as rejected (整改不到位)."""

    @model_validator(mode="after")
    def _named(self) -> Rectification:
        if any(not m.strip() or len(m) > 20 for m in self.measures):
            raise ValueError("a rectification measure is empty or longer than 20 characters")
        return self


class Launch(Frozen):
    """What the office decides at launch."""

    grace_working_days: int = Field(default=10, ge=0, le=60)
    """Obligations the plan makes due before, or within this many official working days of, the
    launch get a due date the office sets at launch: the launch date plus these working days (a
    plan issued on the day its first duty falls due is not overdue in its first week). 0: none."""


LADDER = (Role.unit, Role.lead, Role.office, Role.convener)

# Fields added after version 1, with the defaults that version 1 behaved as: left out of the
# digest while they hold those defaults, so a version-1 rule set keeps its pinned hash.
_V1_DEFAULTS: dict[str, Any] = {
    "deadline_shift": "next_working_day",
    "quiet_hours": {"start": "08:30:00", "end": "18:00:00"},
    "extensions": {"max_per_obligation": 1, "not_after_level": 2, "max_working_days": 40},
    "ladder": [r.value for r in LADDER],
    "evidence": EvidencePolicy().model_dump(mode="json"),
    "severity": NoticeSeverity().model_dump(mode="json"),
    "rectification": Rectification().model_dump(mode="json"),
    "launch": Launch().model_dump(mode="json"),
}
_V1_RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "trigger": {"milestone": None, "event": None},
    "action": {"working_days": None},
}


class RuleSet(Frozen):
    id: RuleId
    version: int = Field(ge=1)
    description: str = ""
    time_of_day: HourMinute = "09:00"
    deadline_shift: DeadlineShift = DeadlineShift.next_working_day
    quiet_hours: QuietHours = QuietHours()
    """When e-mail and webhook pushes may reach people (the inbox never waits)."""
    extensions: Extensions = Extensions()
    evidence: EvidencePolicy = EvidencePolicy()
    ladder: tuple[Role, ...] = LADDER
    """The escalation ladder, bottom to top: an escalation's level may only climb it."""
    rules: tuple[Rule, ...] = Field(max_length=MAX_RULES)
    monthly: Monthly = Monthly()
    severity: NoticeSeverity = NoticeSeverity()
    """The 三色督办 thresholds of 督办通知."""
    rectification: Rectification = Rectification()
    """责令整改's measures, rung by rung."""
    launch: Launch = Launch()
    """The grace the office gives at launch to work the plan makes due too soon."""

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule id {sorted(dup)[0]!r}")
        seen: list[Role] = []
        for role in self.ladder:
            if role in seen:
                path = " → ".join([*seen[seen.index(role) :], role])
                raise ValueError(f"the escalation ladder has a cycle: {path}")
            seen.append(role)
        rungs = {role: i for i, role in enumerate(self.ladder)}
        climbs: dict[int, tuple[Role, str]] = {}
        for r in self.rules:
            a = r.action
            if a.kind is not ActionKind.escalate:
                continue
            if a.to not in rungs:
                raise ValueError(f"rule {r.id}: escalates to {a.to}, which is not on the ladder {list(self.ladder)}")
            if a.level in climbs and climbs[a.level][0] is not a.to:
                other = climbs[a.level]
                raise ValueError(
                    f"rule {r.id}: level {a.level} goes to {a.to}, but rule {other[1]} sends it to {other[0]}"
                )
            climbs[a.level] = (a.to, r.id)
        ordered = sorted(climbs.items())
        for (lo, (lo_role, lo_rule)), (hi, (hi_role, hi_rule)) in pairwise(ordered):
            if rungs[hi_role] < rungs[lo_role]:
                raise ValueError(
                    f"rule {hi_rule}: the escalation ladder has a cycle: level {hi} goes back down to "
                    f"{hi_role} after level {lo} reached {lo_role} (rule {lo_rule})"
                )
        return self

    def roles(self) -> set[Role]:
        """Every role the rule set addresses."""
        return {r.action.to for r in self.rules}

    def digest(self) -> str:
        data = self.model_dump(mode="json")
        for k, v in _V1_DEFAULTS.items():
            if data.get(k) == v:
                del data[k]
        for r in data["rules"]:
            for part, defaults in _V1_RULE_DEFAULTS.items():
                for k, v in defaults.items():
                    if r[part].get(k, v) == v:
                        r[part].pop(k, None)
        return content_hash(data)

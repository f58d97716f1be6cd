"""责令整改: a rectification order, what the unit reports, what the office decides.

An order comes from whichever part of the campaign issued it (the monthly bulletin's laggards
today; rules and failed milestones too) as a `RectificationOrder`, and lives in its own
`RectificationWorkflow` (`rectification_workflow_id`). Pure pydantic, like every model.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.plan import PhaseKind


class OrderState(StrEnum):
    """Where an order is. Three end it: `resolved`, `rejected` (closed as 整改不到位 after the rule
    set's send-backs) and, at the campaign's end, `escalated` (no report by its due date, handed
    up); `sent_back` is a round, not an end: the unit reports again by a new due date."""

    open = "open"  # issued, the unit has not reported yet
    reported = "reported"  # the unit sent its 整改报告; the office has not reviewed it
    resolved = "resolved"  # the office accepted the report
    sent_back = "sent_back"  # the office sent the report back, with reasons and a new due date
    rejected = "rejected"  # 整改不到位: a report failed again after the last send-back; closed
    escalated = "escalated"  # the due date passed without a report

    @property
    def awaiting_report(self) -> bool:
        return self in (OrderState.open, OrderState.sent_back, OrderState.escalated)

    @property
    def closed(self) -> bool:
        """The office is done with it: accepted, or closed as not rectified."""
        return self in (OrderState.resolved, OrderState.rejected)


ORDER_STATES = tuple(s.value for s in OrderState)
OPEN_ORDER_STATES = tuple(s.value for s in OrderState if not s.closed)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RectificationOrder(_Model):
    """An order to follow up: enough to start its workflow from any parent."""

    key: str = Field(max_length=300)
    """The idempotency key of its `rectification_orders` row (e.g. `CAMPAIGN#rectify#MONTH#UNIT`)."""
    unit_id: str
    due: date
    """The date the unit must have rectified and reported by."""
    issued: datetime
    """Plan time the order was issued."""
    month: date | None = None
    """The bulletin month for the monthly cycle's orders; the month issued otherwise."""
    overdue: int = 0
    """Overdue obligations that led to the order (monthly orders)."""
    source: str = "monthly"
    """Who issued it: `monthly`, `rule:<id>`, `milestone:<id>`."""
    obligation_id: str | None = None
    """The obligation it is about, when one."""
    lead: str | None = None
    """Where escalating "to the lead" goes (the task's 牵头单位); None: the office."""
    phase: PhaseKind = PhaseKind.rollout
    """For rule conditions that look at `phase` only."""
    reason: str = ""
    items: list[str] = Field(default_factory=list)
    """The obligations the order lists (one unit's, issued per unit); empty for orders issued
    before orders were per unit, and for the monthly cycle's (their row lists them)."""


def rectification_workflow_id(campaign_id: str, key: str) -> str:
    """`CAMPAIGN/rectify/<order key>`, the key without its campaign prefix (the id names it)."""
    rest = key
    for prefix in (f"{campaign_id}#rectify#", f"{campaign_id}/", f"{campaign_id}#"):
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            break
    return f"{campaign_id}/rectify/{rest}"


def campaign_of(workflow_id: str) -> str:
    """The campaign id of a rectification workflow id.

    Raises:
        ValueError: not a rectification workflow id.
    """
    cid, sep, rest = workflow_id.partition("/rectify/")
    if not sep or not cid or not rest:
        raise ValueError(f"{workflow_id!r} is not a rectification order (CAMPAIGN/rectify/ORDER)")
    return cid


class OrderProgress(_Model):
    """What has happened to an order: the workflow's state, carried over continue-as-new."""

    state: OrderState = OrderState.open

    @field_validator("state", mode="before")
    @classmethod
    def _sent_back(cls, v: object) -> object:
        # Before the final rejection, "rejected" named the sent-back round. A rejected order ends
        # its workflow and is never carried over, so a carried "rejected" is always that round.
        return OrderState.sent_back.value if v == "rejected" else v

    due: date
    round: int = 0
    """How many times the office sent a report back (each send-back opens a new round)."""
    assigned: date
    """When the current round began: the issue date, then each rejection's."""
    unit_name: str
    unit_kind: str = "town"
    report_text: str = ""
    evidence: list[str] = Field(default_factory=list)
    review_reason: str = ""
    reminders: int = 0
    escalation_level: int = 0
    fired: list[str] = Field(default_factory=list)
    """Occurrences acted on in this round."""
    overdue_rounds: list[int] = Field(default_factory=list)
    """Rounds whose due date passed unanswered (recorded once each)."""
    seq: int = 0
    """Steps mirrored so far: the read side keeps the latest decision, whatever order writes land in."""


# -- the Updates ---------------------------------------------------------------------------------


class ReportRectification(_Model):
    """整改报告: the unit says what it rectified, with references to its evidence files."""

    unit_id: str
    text: str = Field(min_length=1, max_length=4000)
    evidence: list[str] = Field(default_factory=list, max_length=20)
    """File references (names, document ids or URLs of photos and papers), never file contents."""
    account: str | None = Field(default=None, max_length=100)
    """Who reports for the unit, as the door proved it (None in histories from before)."""
    role: str | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _refs(self) -> ReportRectification:
        if any(not e.strip() or len(e) > 500 for e in self.evidence):
            raise ValueError("an evidence reference is empty or longer than 500 characters")
        if not self.text.strip():
            raise ValueError("the report has no text")
        return self


class ReviewRectification(_Model):
    """The office's decision on a report: accepted (resolved), or not, with reasons: sent back for
    a new round, or, after the rule set's `rectification.send_backs`, the order closed as rejected."""

    reviewer: str
    accept: bool
    account: str | None = Field(default=None, max_length=100)
    """Who reviews for the office, as the door proved it (None in histories from before)."""
    role: str | None = Field(default=None, max_length=20)
    reason: str = Field(default="", max_length=2000)
    new_due: date | None = None
    """Send-backs: the new due date (default: the rule set's rectification working days from today)."""

    @model_validator(mode="after")
    def _reasons(self) -> ReviewRectification:
        if not self.accept and not self.reason.strip():
            raise ValueError("a rejection gives its reasons")
        if self.accept and self.new_due is not None:
            raise ValueError("an accepted report needs no new due date")
        return self


class InstructRectification(_Model):
    """批示: the convener (`unit_id`, the plan's 召集人) answers an escalation of the order that
    reached it, in `text`; recorded on the chain and sent to the unit's and the office's inbox."""

    unit_id: str
    text: str = Field(min_length=1, max_length=4000)
    account: str | None = Field(default=None, max_length=100)
    """Who answers for the convener, as the door proved it."""
    role: str | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _said(self) -> InstructRectification:
        if not self.text.strip():
            raise ValueError("批示内容不能为空")
        return self


class RectificationView(_Model):
    key: str
    workflow_id: str
    unit_id: str
    state: OrderState
    due: date
    round: int
    report_text: str = ""
    review_reason: str = ""
    office: str = ""
    """Who reviews: the campaign's office."""


class OrderNotice(_Model):
    """An inbox row (and its pushes) about an order: the order's own news to a unit or the office."""

    key: str
    recipient: str
    title: str
    body: str


class OpenedOrder(_Model):
    unit_name: str
    unit_kind: str = "town"

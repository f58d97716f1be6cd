"""What the read side answers (`activities.store.views`), as the doors show it: pure pydantic.

Times are kept as they are stored (timezone-aware); a door formats them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.rectification import rectification_workflow_id


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class FieldToFill(View):
    """A plan field left to fill in, with its line in the plan file."""

    line: int
    field: str
    what: str
    fallback: str
    until_filled: str
    """The fallback in words, as a reader needs it (a unit's name and id, a date and why)."""
    because: str


class CampaignHead(View):
    """A campaign's row, without its pinned documents."""

    id: str
    status: str
    plan_title: str
    office: str
    closed_plan_time: datetime | None = None


class CampaignStatus(View):
    campaign: str
    status: str
    plan: str
    counts: dict[str, int]


class InboxMessage(View):
    plan_time: datetime
    kind: str
    title: str
    obligation_id: str | None = None


class InboxPage(View):
    """The newest messages of a unit (oldest first) and how many there are in all."""

    unit: str
    campaign: str | None
    messages: list[InboxMessage]
    total: int


class DeliveryAttachment(View):
    filename: str
    sha256: str
    size: int
    content_type: str


class DeliveryAttempt(View):
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    error: str | None


class Delivery(View):
    """One push of the ledger (an e-mail or a webhook) and its attempts."""

    key: str
    recipient: str
    channel: str
    address: str
    subject: str
    status: str
    attempts: int
    not_before: datetime
    plan_time: datetime
    server_time: datetime
    sent_at: datetime | None
    last_error: str | None
    attachments: list[DeliveryAttachment]
    attempt_log: list[DeliveryAttempt]

    @property
    def not_before_plan_time(self) -> datetime:
        return self.not_before - (self.server_time - self.plan_time)


class DeliveryLedger(View):
    campaign: str
    counts: dict[str, dict[str, int]]
    """channel → status → rows, over the whole ledger."""
    deliveries: list[Delivery]


class Notice(View):
    """A 督办通知 as numbered (the keys `duban notices --json` prints)."""

    campaign: str
    code: str
    year: int
    number: int
    date: str
    unit: str
    severity: str | None
    obligation: str
    level: int
    copy_to: Any
    rule: str
    title: str
    key: str
    unit_name: str
    items: list[dict[str, Any]] = Field(default_factory=list)
    """The obligations the notice lists, as its table prints them (obligation, title, due date,
    working days overdue, state, progress, escalations before it); from its audit record."""
    copies: list[str] = Field(default_factory=list)
    """Every unit it is copied to (抄送); `copy_to` keeps the first, as the table has it."""


class PaperFile(View):
    """A stored file of a paper, its bytes already checked against the SHA-256 on the record."""

    format: str
    filename: str
    sha256: str
    content: bytes


class NoticePaper(View):
    notice: Notice
    record: dict[str, Any]
    """What the audit row recorded when it was issued (copies, overdue items, reply date)."""
    files: dict[str, PaperFile]
    names: dict[str, str]


class BulletinPaper(View):
    campaign: str
    month: date
    body: dict[str, Any]
    files: dict[str, PaperFile]


class ScoreRow(View):
    id: int
    sheet_id: str
    unit_id: str
    assessed_on: date
    assessor: str
    points: dict[str, Any]
    findings: list[str]
    total: float
    passed: bool
    source: str
    entered_by: str
    supersedes: int | None
    scorebook_hash: str


class ScoreList(View):
    campaign: str
    names: dict[str, str]
    """Unit id → name, for the towns the campaign's score sheets cover."""
    scores: list[ScoreRow]


class Order(View):
    """A 责令整改 as the read side has it."""

    campaign: str
    workflow_id: str | None
    key: str
    unit_id: str
    month: date
    plan_time: datetime
    due: date
    first_due: date | None
    state: str
    round: int
    source: str | None
    report_text: str | None
    evidence: list[Any]
    reported_at: datetime | None
    reviewer: str | None
    review_reason: str | None
    reviewed_at: datetime | None
    escalated_at: datetime | None
    resolved_at: datetime | None
    level: int = 1
    """The rung of the rule set's measures (1 责令整改, 2 通报批评, 3 约谈 by default)."""
    measure: str | None = None
    items: list[str] = Field(default_factory=list)
    """The obligations the order lists (empty for orders issued before orders were per unit)."""

    @property
    def order_id(self) -> str:
        """The id its workflow has, or would have (orders issued before they were followed)."""
        return self.workflow_id or rectification_workflow_id(self.campaign, self.key)


class AuditLine(View):
    """One audit row as a JSON line: plan date and server time, what, whom, which rule."""

    seq: int
    kind: str
    plan_date: str
    plan_time: str
    server_time: str
    obligation: str | None
    unit: str | None
    rule: str | None
    actor: str
    payload: Any
    hash: str


class AssessmentRow(View):
    """One unit judged in one assessment: a milestone's 达标验收 (and its re-check) or a round of
    the plan's schedule (日常督导 2021-05, 拉练检查 2021-09-15, 年度总评 2021 …)."""

    kind: str
    round: str
    """The milestone (basic, model) or the scheduled round; empty for the one final annual review
    of a campaign launched before schedules."""
    attempt: int
    unit_id: str
    held_on: date
    score: float
    passed: bool
    scored: bool
    """False: the unit had no score for it (it counts as not passed)."""


class AssessmentKindCount(View):
    kind: str
    rounds: int
    """Distinct rounds (or milestones) held."""
    judged: int
    passed: int


class AssessmentList(View):
    campaign: str
    names: dict[str, str]
    kinds: list[AssessmentKindCount]
    assessments: list[AssessmentRow]

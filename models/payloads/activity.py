"""The activities' inputs and results (the campaign's effects, recorded on the chain)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from models.assessment import ScoreBook
from models.delivery import QuietHours
from models.obligation import ObligationState
from models.payloads.base import Payload, Provenance
from models.payloads.campaign import CampaignContext, EngineCost
from models.plan import PhaseKind, Plan
from models.rectification import RectificationOrder
from models.ruleset import ActionKind, Channel, Role


class RegisterCampaign(Payload):
    context: CampaignContext
    plan: Plan
    provenance: Provenance
    server_time: datetime
    plan_time: datetime
    scorebook: ScoreBook | None = None


class LoadObligations(Payload):
    campaign_id: str
    phase: PhaseKind
    unit_id: str


class FiredAction(Payload):
    """One rule firing for one obligation, decided by rules/ and carried out by an activity."""

    key: str
    """Idempotency key: campaign, obligation, rule and occurrence. Unique in the database."""
    kind: ActionKind
    rule_id: str
    obligation_id: str
    unit_id: str
    recipient: str
    role: Role
    level: int = 0
    notice: bool = False
    title: str
    body: str
    due: date
    rectify_due: date | None = None
    """Rectification orders: the date the unit must have rectified by."""
    channels: list[Channel] = Field(default_factory=lambda: [Channel.inbox])
    plan_time: datetime
    server_time: datetime
    facts: dict[str, Any] = Field(default_factory=dict)

    def audit_payload(self) -> dict[str, Any]:
        """What the audit row of this action records: to whom, at which level, for which due
        date, and the facts its rule's condition saw."""
        out: dict[str, Any] = {
            "recipient": self.recipient,
            "role": self.role.value,
            "level": self.level,
            "due": self.due.isoformat(),
            "facts": self.facts,
            "title": self.title,
        }
        if self.rectify_due is not None:
            out["rectify_due"] = self.rectify_due.isoformat()
        return out


class DeliverBatch(Payload):
    provenance: Provenance
    notice_prefix: str
    actions: list[FiredAction]
    quiet_hours: QuietHours | None = None
    """The rule set's quiet hours for e-mail and webhook pushes (None: the worker's setting)."""
    per_unit: bool = False
    """Papers per unit (`rules.rounds`): one 督办通知 and one 责令整改 per unit for the batch, each
    listing its obligations. False in histories from before (a notice per escalation, an order
    per rectify action), which `audit verify` reads as they were written."""


class ArmBatch(Payload):
    """A unit's reminders due at its next instant, written ahead to show at that instant
    (`Delivering.arm`): the delivery at the instant confirms them. Only reminders to the inbox
    alone are armed: they carry no number, no paper and no push, so writing them early commits
    nothing the instant could decide otherwise; a change before the instant disarms them."""

    campaign_id: str
    actions: list[FiredAction] = Field(default_factory=list)
    """The reminders to show at their `server_time` (an armed key again: its text replaced)."""
    disarm: list[str] = Field(default_factory=list)
    """Keys armed before that are no longer due: removed, unless confirmed already."""


class DeliverResult(Payload):
    delivered: int = 0
    already: int = 0
    notices: list[str] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    """Keys of the batch's order rounds whose items joined the unit's open order: no new order,
    so no workflow to start for them."""


class DeliveredHere(Payload):
    """`Act.deliver_here`'s result: the batch it was given, and what `deliver` returned."""

    input: DeliverBatch
    result: DeliverResult


class StateChange(Payload):
    key: str
    """Idempotency key of the change: the Update's id."""
    obligation_id: str
    unit_id: str
    actor: str
    state: ObligationState
    progress: int
    text: str = ""
    plan_time: datetime
    server_time: datetime
    event: str | None = None
    """The audit kind when this is not a plain state change: extension.requested/approved/
    refused, obligation.accepted/returned. None: `obligation.<state>`."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """What the event adds: the due date asked or granted, the evidence files, …"""
    account: str | None = None
    """The account that acted for `actor` (the unit), when the Update carried one."""
    role: str | None = None


class Refusal(Payload):
    """An Update refused for what it asked (another unit's obligation, completing twice, …):
    recorded, so every refused attempt is in the audit trail."""

    provenance: Provenance
    key: str
    verb: str
    obligation_id: str
    known: bool
    """Whether the obligation exists in this unit workflow."""
    actor: str
    reason: str
    text: str = ""
    plan_time: datetime
    server_time: datetime
    account: str | None = None
    """The account that tried, for the unit in `actor` (when the Update carried one)."""
    role: str | None = None


class MirrorBatch(Payload):
    provenance: Provenance
    changes: list[StateChange]


class MirroredHere(Payload):
    """`Act.mirror_here`'s result: the batch it was given, and the changes `mirror` wrote."""

    input: MirrorBatch
    result: int


class MonthlyRun(Payload):
    provenance: Provenance
    month: date
    plan_time: datetime
    server_time: datetime
    rectify_if_overdue_at_least: int
    rectification_due: date
    per_unit: bool = False
    """Orders at the unit's measure, listing its overdue obligations, none while its order stands
    (`rules.rounds`); False in histories from before: an order per laggard every month."""


class MonthlyResult(Payload):
    bulletin: bool = False
    rectification_orders: int = 0
    orders: list[RectificationOrder] = Field(default_factory=list)
    """The orders this month's cycle issued, in the order it issued them (empty in histories
    recorded before orders had workflows)."""
    open_obligations: int | None = None
    """Obligations not yet closed (办结 or withdrawn) as of the cycle; None in histories recorded
    before the count, which bulletin to the plan's end."""


class AssessRun(Payload):
    provenance: Provenance
    kind: str
    milestone: str | None = None
    as_of: date
    plan_time: datetime
    server_time: datetime
    attempt: int = Field(default=1, ge=1)
    """1: at the milestone (or the year's end); 2: the re-check (复查) of the towns that failed."""
    sheet_id: str | None = None
    """A scheduled round (rules.assessment_schedule): the sheet it is held on."""
    round: str | None = None
    """A scheduled round's name (2021-05, 2021-H2, 2021, a set date): kept in the row's milestone
    column and its keys, so each round of a kind is its own assessment."""
    since: date | None = None
    """A scheduled round: only scores dated from this day count (last month's are not this month's)."""


class AssessResult(Payload):
    """What an assessment found; the phase sleeps to `recheck_on` and assesses again."""

    written: int = 0
    failed: int = 0
    recheck_on: date | None = None
    """Set when towns failed an acceptance and were ordered to rectify: the re-check date."""


class EvaluateRun(Payload):
    """总结评价 at the end of the evaluation phase. Only ids and dates: the activity reads
    everything it weighs from the database (a province's evaluation is large)."""

    provenance: Provenance
    as_of: date
    plan_time: datetime
    server_time: datetime


class EvaluationSummary(Payload):
    evaluated: bool = False
    """False: the campaign has no score sheets, so there is nothing to evaluate on."""
    towns: int = 0
    commended: list[str] = Field(default_factory=list)
    laggards: list[str] = Field(default_factory=list)
    documents: dict[str, str] = Field(default_factory=dict)
    """Format → SHA-256 of the stored final report (docx, pdf, xlsx) and evaluation (json)."""


class CloseCampaign(Payload):
    provenance: Provenance
    plan_time: datetime
    server_time: datetime
    cost: EngineCost

"""One pydantic model per workflow, activity, update and query payload.

Fields get defaults where they can, so a field added later does not break a running campaign
(the sdk-python convention of a single model parameter).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.assessment import ScoreBook
from models.calendar import CalendarData
from models.delivery import QuietHours
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.plan import PhaseKind, Plan
from models.rectification import OrderNotice, OrderProgress, OrderState, RectificationOrder
from models.ruleset import ActionKind, Channel, Role, RuleSet
from models.time import Clock


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- activity names: workflows call activities by name so that workflow code never imports the
#    activity implementations (and with them the database driver) into the sandbox.
class Act(StrEnum):
    register_campaign = "register_campaign"
    load_obligations = "load_obligations"
    deliver = "deliver"
    mirror = "mirror"
    monthly_cycle = "monthly_cycle"
    assess = "assess"
    close_campaign = "close_campaign"
    record_refusal = "record_refusal"
    record_rules = "record_rules"
    record_amendment = "record_amendment"
    simulate_agency = "simulate_agency"
    evaluate = "evaluate"  # 总结评价: the comprehensive evaluation, the final report (EvaluateRun)
    simulate_scores = "simulate_scores"  # rehearsals: the simulated assessors' scores (SimulateScores)
    dispatch = "dispatch"  # e-mail and webhook pushes: models.delivery.DispatchRequest / DispatchResult
    dispatch_alert = "dispatch_alert"  # a channel down or a push uncertain: told to the office
    rectification_open = "rectification_open"
    rectification_step = "rectification_step"
    check_evidence = "check_evidence"  # the stored files an Update cites: CheckEvidence → EvidenceChecked


# -- the campaign ---------------------------------------------------------------------------------


class CampaignContext(Payload):
    """What every workflow of a campaign needs to decide, pinned at launch."""

    campaign_id: str
    plan_id: str
    plan_hash: str
    ruleset: RuleSet
    ruleset_hash: str
    calendar: CalendarData
    calendar_hash: str
    clock: Clock
    notice_prefix: str
    office: str
    convener: str
    ends: date
    """Plan date after which nothing more fires: the end of the last phase."""
    max_children: int = Field(default=1000, ge=2, le=2000)
    """Children one parent workflow starts; past it, fan-out gets another level."""
    milestones: dict[str, date] = Field(default_factory=dict)
    """The plan's milestone dates by id, for milestone triggers."""
    rules_since: datetime | None = None
    """When the rule set in force was installed on the running campaign (None: at launch).
    Its firings before then are not acted on: a new rule set applies to future firings only."""
    push: bool = False
    """Launched with a contacts file: e-mail and webhook pushes are queued, and a DispatchWorkflow
    sends them. False for rehearsals, and for campaigns launched before pushes existed."""


class CampaignInput(Payload):
    context: CampaignContext
    plan: Plan
    launched_plan_time: datetime
    """Plan time at launch: the 2021 plan rehearsed today launches at its issue date."""
    scorebook: ScoreBook | None = None
    """The score sheets (考核评分表) the campaign is assessed on, pinned at launch with their hash.
    None: milestones are judged on the obligations alone, as before score sheets existed."""


class EngineCost(Payload):
    """What a run cost the engine, summed up the workflow tree."""

    workflows: int = 0
    activities: int = 0
    history_events: int = 0
    continued_as_new: int = 0

    def add(self, other: EngineCost) -> EngineCost:
        return EngineCost(
            workflows=self.workflows + other.workflows,
            activities=self.activities + other.activities,
            history_events=self.history_events + other.history_events,
            continued_as_new=self.continued_as_new + other.continued_as_new,
        )


class CampaignResult(Payload):
    campaign_id: str
    cost: EngineCost
    counts: dict[str, int] = Field(default_factory=dict)


class PhaseInput(Payload):
    context: CampaignContext
    phase: PhaseKind
    start: date
    end: date
    units: list[str]
    milestones: list[MilestoneRef] = Field(default_factory=list)


class MilestoneRef(Payload):
    id: str
    name: str
    due: date


class UnitBatchInput(Payload):
    """A level of fan-out between a phase and its units, used when a phase has too many units."""

    context: CampaignContext
    phase: PhaseKind
    units: list[str]
    path: str = ""
    """Where the batch sits in the tree (e.g. "-001-000"), to name its own batches uniquely."""


class UnitInput(Payload):
    context: CampaignContext
    phase: PhaseKind
    unit_id: str
    # Set only when continuing as new: the state carried over.
    carried: list[Obligation] | None = None
    cost: EngineCost | None = None


class MonthlyInput(Payload):
    context: CampaignContext
    first_month: date
    """The first day of the first month with a 月度对账."""
    months_done: int = 0
    cost: EngineCost | None = None
    orders_waiting: list[RectificationOrder] = Field(default_factory=list)
    """Rectification orders issued but not started yet: the previous run reached its child limit."""


class InstallRules(Payload):
    """`duban rules install`: a new rule set for a running campaign, read and checked by the
    service (bounded YAML, `FILE:LINE` errors) and sent as the `RuleSet` it read. The workflow
    never parses YAML: its validator refuses `text` (an Update sent straight through a Temporal
    client with a YAML bomb in it) without reading it."""

    text: str = ""
    """Kept for Updates accepted before the rule set was sent parsed (replayed from history)."""
    path: str = "rules.yaml"
    actor: str = "office"
    ruleset: RuleSet | None = None


class RulesChange(Payload):
    """A rule set installed on a running campaign, passed down the workflow tree."""

    ruleset: RuleSet
    ruleset_hash: str
    since: datetime
    """Plan time of the installation: the new rule set acts on firings from then on."""


class RecordRules(Payload):
    provenance: Provenance
    change: RulesChange
    previous_hash: str
    actor: str
    plan_time: datetime
    server_time: datetime


class RulesInstalled(Payload):
    ruleset_id: str
    version: int
    ruleset_hash: str
    previous_hash: str
    since: datetime


# -- plan amendments ------------------------------------------------------------------------------


class AmendPlan(Payload):
    """`duban plan amend`: the amended plan, already read and checked by the CLI."""

    plan: Plan
    path: str = "plan.yaml"
    actor: str = "office"


class UnitAmendment(Payload):
    """What a plan amendment changes for one unit workflow."""

    added: list[ObligationSpec] = Field(default_factory=list)
    withdrawn: list[str] = Field(default_factory=list)
    moved: dict[str, date] = Field(default_factory=dict)
    """Obligation id → its new plan due date."""
    relead: dict[str, str] = Field(default_factory=dict)
    """Obligation id → its new lead unit."""

    def is_empty(self) -> bool:
        return not (self.added or self.withdrawn or self.moved or self.relead)


class PlanDiff(Payload):
    """A plan amendment's changes, phase by phase and unit by unit."""

    units: dict[str, dict[str, UnitAmendment]] = Field(default_factory=dict)
    """Phase → unit → its changes."""

    def counts(self) -> dict[str, int]:
        out = {"added": 0, "withdrawn": 0, "moved": 0, "relead": 0}
        for per in self.units.values():
            for a in per.values():
                out["added"] += len(a.added)
                out["withdrawn"] += len(a.withdrawn)
                out["moved"] += len(a.moved)
                out["relead"] += len(a.relead)
        return out

    def is_empty(self) -> bool:
        return not any(self.counts().values())


class PlanAmended(Payload):
    plan_hash: str
    previous_hash: str
    counts: dict[str, int]
    at: datetime


class RecordAmendment(Payload):
    provenance: Provenance
    plan: Plan
    previous_hash: str
    diff: PlanDiff
    actor: str
    plan_time: datetime
    server_time: datetime


class PhaseAmendment(Payload):
    """A phase's share of an amendment, passed down to its unit workflows."""

    plan_hash: str
    units: dict[str, UnitAmendment] = Field(default_factory=dict)
    at: datetime
    """Plan time of the amendment: firings of added or moved work from then on."""


class CurrentPlanTime(Payload):
    plan_time: datetime
    phase: str | None = None


# -- updates (agencies acting on their obligations) ------------------------------------------------


class ObligationAction(Payload):
    """The common shape of 签收 / 进展上报 / 办结: who acts on which obligation."""

    obligation_id: str
    unit_id: str
    """The acting unit: the obligation's own unit, or the office."""
    text: str = Field(default="", max_length=4000)


class Evidence(Payload):
    """A file a unit attaches to a report (佐证材料): stored by its SHA-256 before the Update
    is sent, so the workflow history carries only this reference."""

    name: str = Field(min_length=1, max_length=255)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str = "application/octet-stream"


class CheckEvidence(Payload):
    """The evidence an Update cites, to be checked against the files stored under its hashes."""

    evidence: list[Evidence]


class EvidenceChecked(Payload):
    problem: str | None = None
    """Why the citation does not hold (not stored, another size, content not its hash), or None."""


class Acknowledge(ObligationAction):
    pass


class ReportProgress(ObligationAction):
    percent: int = Field(ge=0, le=100)
    evidence: list[Evidence] = Field(default_factory=list)


class Complete(ObligationAction):
    evidence: list[Evidence] = Field(default_factory=list)


class RequestExtension(ObligationAction):
    """延期申请: a unit asks for a later due date, with its reason in `text`."""

    due: date


class DecideExtension(ObligationAction):
    """The office approves or refuses the pending 延期申请 (reason in `text`)."""

    approve: bool


class Evaluate(ObligationAction):
    """评价: the office accepts completed work, or returns it with its reasons (in `text`),
    which reopens it."""

    accept: bool


class ObligationView(Payload):
    id: str
    unit_id: str
    title: str
    due: date
    state: ObligationState
    progress: int
    reminders: int
    escalation_level: int
    extended_due: date | None = None
    pending_extension: date | None = None
    evaluation: str | None = None


# -- activities -----------------------------------------------------------------------------------


class Provenance(Payload):
    """Why something happened: carried into every audit row."""

    campaign_id: str
    plan_hash: str
    ruleset_hash: str
    workflow_id: str
    run_id: str


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


class DeliverResult(Payload):
    delivered: int = 0
    already: int = 0
    notices: list[str] = Field(default_factory=list)


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


class MirrorBatch(Payload):
    provenance: Provenance
    changes: list[StateChange]


class MonthlyRun(Payload):
    provenance: Provenance
    month: date
    plan_time: datetime
    server_time: datetime
    rectify_if_overdue_at_least: int
    rectification_due: date


class MonthlyResult(Payload):
    bulletin: bool = False
    rectification_orders: int = 0
    orders: list[RectificationOrder] = Field(default_factory=list)
    """The orders this month's cycle issued, in the order it issued them (empty in histories
    recorded before orders had workflows)."""


class AssessRun(Payload):
    provenance: Provenance
    kind: str
    milestone: str | None = None
    as_of: date
    plan_time: datetime
    server_time: datetime
    attempt: int = Field(default=1, ge=1)
    """1: at the milestone (or the year's end); 2: the re-check (复查) of the towns that failed."""


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


# -- rehearsal --------------------------------------------------------------------------------------


class AgencyMove(Payload):
    """One thing a simulated agency does at one instant."""

    verb: str  # acknowledge | progress | complete
    obligation_id: str
    percent: int = 0


class AgencyDay(Payload):
    plan_time: datetime
    moves: list[AgencyMove]


class SimulationInput(Payload):
    """A rehearsal's simulated agencies: their behaviour follows from the plan and the seed."""

    context: CampaignContext
    plan: Plan
    seed: int
    never_answering: int = 1
    """How many towns never answer at all."""
    scorebook: ScoreBook | None = None
    """With the campaign's score sheets, simulated assessors score the towns before each
    acceptance, its re-check and the annual review."""
    misses: dict[str, list[str]] = Field(default_factory=dict)
    """Milestone → the towns that miss it (fail its acceptance and the re-check); a milestone
    named here has exactly these, one not named gets seeded misses."""


class AgencyInput(Payload):
    context: CampaignContext
    workflow_id: str
    unit_id: str
    days: list[AgencyDay]


class SimulateAgency(Payload):
    workflow_id: str
    unit_id: str
    moves: list[AgencyMove]
    plan_time: datetime


class SimulateResult(Payload):
    applied: int = 0
    rejected: int = 0


class SimulateScores(Payload):
    """Rehearsals: simulated assessors score the towns on one sheet on one day."""

    provenance: Provenance
    sheet_id: str
    on: date
    recheck: bool = False
    """Score only the towns whose current score on the sheet fails (复查)."""
    seed: int
    silent: list[str] = Field(default_factory=list)
    """Towns that never answer: they fail every acceptance."""
    misses: list[str] | None = None
    """Exactly these towns fail (None: seeded)."""
    plan_time: datetime
    server_time: datetime


class SimulateScoresResult(Payload):
    stored: int = 0
    unchanged: int = 0


PhaseInput.model_rebuild()


# -- 责令整改 and the dispatch loop ------------------------------------------------------------------


class RectificationInput(Payload):
    context: CampaignContext
    order: RectificationOrder
    carried: OrderProgress | None = None
    """Set only when continuing as new."""
    cost: EngineCost | None = None


class OpenOrder(Payload):
    provenance: Provenance
    order: RectificationOrder
    workflow_id: str
    plan_time: datetime
    server_time: datetime
    issued_server_time: datetime


class RectificationStep(Payload):
    """One step of an order, mirrored to its row and recorded, in one transaction."""

    provenance: Provenance
    order_key: str
    unit_id: str
    seq: int
    """The step's number in the workflow: the row keeps the latest, whatever order writes land in."""
    step: str
    """follow_up | reported | accepted | rejected | overdue"""
    state: OrderState
    round: int
    due: date
    actor: str
    event_key: str | None = None
    """The audit row of the step itself (None: a follow-up only writes its actions' rows)."""
    text: str = ""
    evidence: list[str] = Field(default_factory=list)
    reason: str = ""
    actions: list[FiredAction] = Field(default_factory=list)
    """Reminders and escalations the campaign's rules fired for the order."""
    notices: list[OrderNotice] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    plan_time: datetime
    server_time: datetime


class DispatchTally(Payload):
    """What a DispatchWorkflow did, carried over continue-as-new."""

    calls: int = 0
    sent: int = 0
    failed_by_channel: dict[str, int] = Field(default_factory=dict)
    uncertain: int = 0
    alerts: int = 0


class DispatchInput(Payload):
    context: CampaignContext
    closing: bool = False
    """The campaign has closed: send what is pending, then end."""
    tally: DispatchTally = Field(default_factory=DispatchTally)
    cost: EngineCost | None = None


class DispatchAlert(Payload):
    """Pushes that failed or became uncertain in one dispatch call: told to the office."""

    provenance: Provenance
    key: str
    office: str
    failed_by_channel: dict[str, int] = Field(default_factory=dict)
    uncertain: int = 0
    plan_time: datetime
    server_time: datetime

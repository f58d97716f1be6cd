"""The campaign's payloads: its context and input, its children's inputs, rule sets installed
and plans amended while it runs."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from models.assessment import ScoreBook
from models.assessment_schedule import Occasion
from models.calendar import CalendarData
from models.obligation import Obligation, ObligationSpec
from models.payloads.base import Payload, Provenance
from models.plan import PhaseKind, Plan
from models.rectification import RectificationOrder
from models.ruleset import RuleSet
from models.time import Clock


class SimulatedAgencies(Payload):
    """Rehearsal only: each unit workflow plays its own simulated agency (`rules.simulation.schedule`
    from the plan and the seed), instead of an agency workflow sending it Updates."""

    seed: int
    silent: list[str]
    """The towns that never answer (`rules.simulation.never_answering`)."""
    notice_after: int | None = None
    """Units answer their 督办通知, issued this many working days after a due date by the rule
    set at launch (`rules.simulation.notice_after`); None: no notices to answer."""


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
    grace_until: date | None = None
    """The due date the office set at launch for work the plan makes due before it or too soon
    after it (the rule set's `launch.grace_working_days` from the launch: `rules.launch.grace_until`).
    None: no grace (campaigns launched before it, or a rule set giving none)."""
    arm_ahead_seconds: int = Field(default=0, ge=0)
    """Live campaigns: a unit writes the inbox-only reminders of its next instant this long (server
    time) before it, to show at the instant even when a storm of deadlines keeps the engine busy
    (`ArmBatch`). 0: off (rehearsals, whose server clock is not the database's, and campaigns
    launched before)."""
    agencies: SimulatedAgencies | None = None
    """Rehearsals: the unit workflows act their agencies' moves themselves. None: a live campaign
    (agencies send Updates), or a rehearsal from before."""


class CampaignInput(Payload):
    context: CampaignContext
    plan: Plan
    launched_plan_time: datetime
    """Plan time at launch: the 2021 plan rehearsed today launches at its issue date."""
    scorebook: ScoreBook | None = None
    """The score sheets (考核评分表) the campaign is assessed on, pinned at launch with their hash.
    None: milestones are judged on the obligations alone, as before score sheets existed."""
    phase_units: dict[PhaseKind, list[str]] | None = None
    """Each phase's units, worked out at launch (`rules.obligations.units_by_phase`): expanding a
    province's plan is O(obligations), too heavy for a workflow task. None (launched before):
    the workflow expands the plan itself, as it did."""


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
    scheduled: list[str] = Field(default_factory=list)
    """Assessment kinds the campaign's schedule holds (workflows.assessments): an annual review
    there is not also held at the end of the evaluation phase."""


class AssessmentsInput(Payload):
    """The campaign's scheduled assessment rounds (rules.assessment_schedule), in date order."""

    context: CampaignContext
    rounds: list[Occasion]


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
    armed: dict[str, str] = Field(default_factory=dict)
    """Reminders this unit armed and not yet delivered (key → what was armed, `rules.arming`):
    carried over, so that they are confirmed or disarmed after continuing as new."""


class MonthlyInput(Payload):
    context: CampaignContext
    first_month: date
    """The first day of the first month with a 月度对账."""
    months_done: int = 0
    cost: EngineCost | None = None
    orders_waiting: list[RectificationOrder] = Field(default_factory=list)
    """Rectification orders issued but not started yet: the previous run reached its child limit."""
    closed: bool = False
    """The campaign's work was closed: start the waiting orders, bulletin no more."""


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
    account: str | None = None
    """The account that installs it, as the door proved it (None in histories from before)."""


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
    account: str | None = None


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
    account: str | None = None
    """The account that amends it, as the door proved it (None in histories from before)."""


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
    account: str | None = None


class PhaseAmendment(Payload):
    """A phase's share of an amendment, passed down to its unit workflows."""

    plan_hash: str
    units: dict[str, UnitAmendment] = Field(default_factory=dict)
    at: datetime
    """Plan time of the amendment: firings of added or moved work from then on."""


class CurrentPlanTime(Payload):
    plan_time: datetime
    phase: str | None = None

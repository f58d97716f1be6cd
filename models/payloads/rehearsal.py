"""A rehearsal's payloads: simulated agencies and assessors."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from models.assessment import ScoreBook
from models.payloads.base import Payload, Provenance
from models.payloads.campaign import CampaignContext, PhaseInput
from models.plan import Plan


class AgencyMove(Payload):
    """One thing a simulated agency does at one instant."""

    verb: str  # acknowledge | progress | complete
    obligation_id: str
    percent: int = 0
    text: str = ""
    """What the agency writes with it (a default text when empty)."""


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
    answers: bool = False
    """Units answer their 督办通知 and 责令整改 and the office reviews the reports
    (`rules.simulated_answers`); False in histories from before, where nobody answered them."""


class AgencyInput(Payload):
    context: CampaignContext
    workflow_id: str
    unit_id: str
    days: list[AgencyDay]


class AgencyDays(Payload):
    """A rehearsal's unit workflow asks for its simulated agency's days (its slice of
    `rules.simulation.schedule`, worked out from the campaign's stored plan)."""

    context: CampaignContext
    workflow_id: str


class SimulateAgency(Payload):
    workflow_id: str
    unit_id: str
    moves: list[AgencyMove]
    plan_time: datetime


class SimulateResult(Payload):
    applied: int = 0
    rejected: int = 0
    slowest: float = 0.0
    """Seconds the slowest Update took (wall clock)."""


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
    round: str | None = None
    """A scheduled round (日常督导 2021-05, …): only the towns it samples are scored."""


class SimulateScoresResult(Payload):
    stored: int = 0
    unchanged: int = 0


PhaseInput.model_rebuild()


class SimulateDesk(Payload):
    """Rehearsals: on one day, units report on their 责令整改 and the office reviews the reports."""

    campaign_id: str
    office: str
    seed: int
    silent: list[str]
    plan_time: datetime


class DeskResult(Payload):
    reported: int = 0
    accepted: int = 0
    rejected: int = 0
    refused: int = 0
    slowest: float = 0.0
    """Seconds the slowest Update took (wall clock)."""

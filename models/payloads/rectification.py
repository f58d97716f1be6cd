"""责令整改 orders as workflows, and the dispatch loop's payloads."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from models.delivery import QuietHours
from models.payloads.activity import FiredAction
from models.payloads.base import Payload, Provenance
from models.payloads.campaign import CampaignContext, EngineCost
from models.rectification import OpenedOrder, OrderNotice, OrderProgress, OrderState, RectificationOrder


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
    account: str | None = None
    """The account that acted for `actor` (a report's unit, the reviewing office), if an Update did."""
    role: str | None = None
    level: int | None = None
    """A convener's 批示: the escalation level it answered (None for every other step)."""


class OpenedHere(Payload):
    """`Act.rectification_open_here`'s result: the order it opened, and what the row said."""

    input: OpenOrder
    result: OpenedOrder


class StepRecorded(Payload):
    """`Act.rectification_step_here`'s result: the step it recorded, and its rows written."""

    input: RectificationStep
    result: int


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

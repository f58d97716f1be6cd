"""The convener's page: the escalations that reached the convener (召集人) and its answers (批示)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan_time: datetime
    text: str
    account: str | None = None
    """Who answered, as the door proved it (`web:<name>`)."""


class ConvenerEscalation(BaseModel):
    """One obligation whose escalation reached the convener, with the latest such escalation."""

    model_config = ConfigDict(frozen=True)

    obligation_id: str
    unit_id: str
    unit_name: str
    title: str
    due: date
    """The due date in force (an approved 延期申请's, else the plan's)."""
    state: str
    level: int
    escalated_at: datetime
    message: str
    """The escalation as the convener's inbox has it."""
    answers: list[Answer] = []


class ConvenerOrder(BaseModel):
    """One 责令整改 order whose escalation reached the convener, with the latest such escalation."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    """Its workflow's id (`CAMPAIGN/rectify/…`), what `duban convener instruct` and the form take."""
    unit_id: str
    title: str
    due: date
    """The due date of its current round."""
    state: str
    round: int
    level: int
    escalated_at: datetime
    message: str
    answers: list[Answer] = []


class ConvenerPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign: str
    convener: str
    """The plan's convener unit (召集人)."""
    items: list[ConvenerEscalation]
    orders: list[ConvenerOrder] = []
    """Rectification orders whose escalation reached the convener."""

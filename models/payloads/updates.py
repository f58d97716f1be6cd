"""The Updates agencies send on their obligations, and what a unit shows of one."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from models.obligation import ObligationState
from models.payloads.base import Payload


class ObligationAction(Payload):
    """The common shape of 签收 / 进展上报 / 办结: who acts on which obligation."""

    obligation_id: str
    unit_id: str
    """The acting unit: the obligation's own unit, or the office."""
    text: str = Field(default="", max_length=4000)
    account: str | None = Field(default=None, max_length=100)
    """Who acts for the unit, as the door proved it (`cli:<operator>`, a web account): put on the
    audit chain beside the unit. None in histories recorded before accounts were carried."""
    role: str | None = Field(default=None, max_length=20)
    """The account's role for this campaign (office, agency, …), as the service decided it."""


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


class Instruct(ObligationAction):
    """批示: the convener (`unit_id`, the plan's 召集人) answers an escalation of the obligation
    that reached it, in `text`; recorded on the chain and sent to the unit's and the office's inbox."""

    text: str = Field(min_length=1, max_length=4000)


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

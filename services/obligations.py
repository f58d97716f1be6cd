"""What a unit (or the office) does to an obligation: 签收, 进展上报, 办结, 延期申请 and the office's
answer, 评价; and the unit's inbox. Each is a validated Update on the unit's workflow, which
authorizes on the acting unit and puts a refused attempt on the audit trail."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from datetime import date
from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from temporalio.workflow import UpdateMethodMultiParam

from activities.store import evidence as evidence_store
from activities.store import views
from models.obligation import workflow_id_of
from models.payloads import (
    Acknowledge,
    Complete,
    DecideExtension,
    Evaluate,
    Evidence,
    ObligationAction,
    ObligationView,
    ReportProgress,
    RequestExtension,
)
from models.views import InboxPage
from rules.evidence import name_problem, policy_problem
from services.actors import Actor
from services.context import Services
from services.errors import Invalid
from services.updates import send
from workflows import UnitWorkflow

A = TypeVar("A", bound=ObligationAction)

EVIDENCE_STORE_LIMIT = 200 * 1024 * 1024
"""Files above this are not even stored: the rule set's own limit (20 MB by default) refuses them."""


class EvidenceFile(BaseModel):
    """A file as the door received it."""

    model_config = ConfigDict(frozen=True)

    name: str
    content: bytes


def campaign_of(obligation: str) -> str:
    """The campaign of an obligation id; Invalid if it is not one."""
    try:
        workflow_id_of(obligation)
    except ValueError as e:
        raise Invalid(str(e)) from None
    return obligation.split("/", 1)[0]


def _unit(actor: Actor) -> str:
    if actor.unit is None:
        raise Invalid("acting on an obligation needs the acting unit")
    return actor.unit


def _who(actor: Actor) -> dict[str, str]:
    """Who acts for the unit, carried in the Update to the audit chain (`ObligationAction.account`)."""
    return {"account": actor.account, "role": actor.role}


async def _act(
    ctx: Services, update: UpdateMethodMultiParam[[UnitWorkflow, A], ObligationView], arg: A
) -> ObligationView:
    campaign = campaign_of(arg.obligation_id)
    return await send(
        ctx,
        workflow_id=workflow_id_of(arg.obligation_id),
        update=update,
        arg=arg,
        campaign=campaign,
        missing=(
            f"no open workflow holds {arg.obligation_id}: the campaign is not launched, its phase has not "
            "started or has finished, or the unit has no obligations in it"
        ),
    )


async def acknowledge(ctx: Services, *, actor: Actor, obligation: str) -> ObligationView:
    """签收."""
    return await _act(
        ctx, UnitWorkflow.acknowledge, Acknowledge(obligation_id=obligation, unit_id=_unit(actor), **_who(actor))
    )


async def report_progress(
    ctx: Services, *, actor: Actor, obligation: str, percent: int, text: str = "", evidence: Sequence[Evidence] = ()
) -> ObligationView:
    """进展上报, citing evidence already stored (`store_evidence`)."""
    arg = ReportProgress(
        obligation_id=obligation,
        unit_id=_unit(actor),
        percent=percent,
        text=text,
        evidence=list(evidence),
        **_who(actor),
    )
    return await _act(ctx, UnitWorkflow.report_progress, arg)


async def complete(
    ctx: Services, *, actor: Actor, obligation: str, text: str = "", evidence: Sequence[Evidence] = ()
) -> ObligationView:
    """办结, citing evidence already stored (`store_evidence`)."""
    arg = Complete(obligation_id=obligation, unit_id=_unit(actor), text=text, evidence=list(evidence), **_who(actor))
    return await _act(ctx, UnitWorkflow.complete, arg)


async def request_extension(ctx: Services, *, actor: Actor, obligation: str, due: date, reason: str) -> ObligationView:
    """延期申请: a later due date, for the office to answer."""
    arg = RequestExtension(obligation_id=obligation, unit_id=_unit(actor), due=due, text=reason, **_who(actor))
    return await _act(ctx, UnitWorkflow.request_extension, arg)


async def decide_extension(
    ctx: Services, *, actor: Actor, obligation: str, approve: bool, reason: str = ""
) -> ObligationView:
    """The office's answer to a pending 延期申请: approved, the deadline and every later reminder
    and escalation move; refused, nothing moves."""
    arg = DecideExtension(obligation_id=obligation, unit_id=_unit(actor), approve=approve, text=reason, **_who(actor))
    return await _act(ctx, UnitWorkflow.decide_extension, arg)


async def evaluate(ctx: Services, *, actor: Actor, obligation: str, accept: bool, reason: str = "") -> ObligationView:
    """评价: the office accepts completed work, or returns it (reopened) saying why."""
    if not accept and not reason.strip():
        raise Invalid("returning work needs a reason (--reason): the unit is told why")
    arg = Evaluate(obligation_id=obligation, unit_id=_unit(actor), accept=accept, text=reason, **_who(actor))
    return await _act(ctx, UnitWorkflow.evaluate, arg)


async def store_evidence(
    ctx: Services, *, files: Sequence[EvidenceFile], campaign: str | None = None
) -> list[Evidence]:
    """Store evidence files by their SHA-256 (once, whatever the Update's fate) and return the
    references an Update carries.

    A name that is not a plain file name is refused here (Invalid). A file the campaign's rule
    set refuses (type, size) is not stored, but its reference is returned: the workflow refuses
    the Update citing it, so the attempt is on the record, and the store holds only what it may.
    """
    policy = await ctx.read(evidence_store.policy, campaign) if campaign else None
    refs, rows = [], []
    for f in files:
        if why := name_problem(f.name):
            raise Invalid(why)
        digest = hashlib.sha256(f.content).hexdigest()
        media = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        refs.append(Evidence(name=f.name, sha256=digest, size=len(f.content), media_type=media))
        refused = policy_problem(f.name, len(f.content), policy) if policy else None
        if refused is None and len(f.content) <= EVIDENCE_STORE_LIMIT:
            rows.append(
                {"sha256": digest, "size": len(f.content), "media_type": media, "name": f.name, "content": f.content}
            )
    if rows:
        async with ctx.writing() as conn:
            await evidence_store.store(conn, rows)
    return refs


async def inbox(ctx: Services, *, unit: str, campaign: str | None = None, limit: int = 50) -> InboxPage:
    """A unit's newest in-app messages (oldest first of those) and how many it has."""
    return await ctx.read(views.inbox_page, unit=unit, campaign=campaign, limit=limit)

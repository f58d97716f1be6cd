"""责令整改: the orders a campaign issued, a unit's 整改报告 and the office's review, each a validated
Update on the order's own workflow (a refused one is on the audit trail)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

from pydantic import ValidationError

from activities.store import views
from models.rectification import RectificationView, ReportRectification, ReviewRectification, campaign_of
from models.views import Order
from services.actors import Actor
from services.context import Services
from services.errors import Invalid, NotFound
from services.updates import ask, send
from workflows import RectificationWorkflow

M = TypeVar("M")


def order_campaign(order: str) -> str:
    """The campaign of an order's id; Invalid if it is not one."""
    try:
        return campaign_of(order)
    except ValueError:
        raise Invalid(
            f"{order!r} is not a rectification order: give its id as `duban rectify list CAMPAIGN` shows it "
            "(CAMPAIGN/rectify/…)"
        ) from None


def _valid(make: Callable[[], M]) -> M:
    try:
        return make()
    except ValidationError as e:
        raise Invalid("; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors())) from None


def _missing(order: str) -> str:
    return f"no workflow follows {order}: it was not issued, or it ended (resolved, rejected, or closed at the end)"


async def rectification_report(
    ctx: Services, *, actor: Actor, order: str, text: str, evidence: list[str] | None = None
) -> RectificationView:
    """整改报告: the ordered unit (the actor's) reports what it rectified, citing evidence by reference."""
    campaign = order_campaign(order)
    arg = _valid(
        lambda: ReportRectification(
            unit_id=actor.unit or "", text=text, evidence=evidence or [], account=actor.account, role=actor.role
        )
    )
    # Acting on an existing order never starts a Temporal server: a fresh one has no orders.
    return await send(
        ctx,
        workflow_id=order,
        update=RectificationWorkflow.report,
        arg=arg,
        campaign=campaign,
        missing=_missing(order),
        start=False,
    )


async def rectification_review(
    ctx: Services, *, actor: Actor, order: str, accept: bool, reason: str = "", new_due: date | None = None
) -> RectificationView:
    """The office reviews a report: accepted (resolved), or not, with reasons: sent back with a
    new due date (default: the rule set's working days from today), or, after the rule set's
    send-backs, closed rejected (整改不到位). The reviewer is the actor's unit,
    else the campaign's office."""
    campaign = order_campaign(order)

    def review(reviewer: str) -> ReviewRectification:
        return _valid(
            lambda: ReviewRectification(
                reviewer=reviewer,
                accept=accept,
                reason=reason,
                new_due=new_due,
                account=actor.account,
                role=actor.role,
            )
        )

    review("office")  # refuse bad input before reaching any server
    reviewer = actor.unit
    if reviewer is None:
        current = await ask(
            ctx,
            workflow_id=order,
            query=RectificationWorkflow.view,
            campaign=campaign,
            missing=_missing(order),
            start=False,
        )
        reviewer = current.office
    return await send(
        ctx,
        workflow_id=order,
        update=RectificationWorkflow.review,
        arg=review(reviewer),
        campaign=campaign,
        missing=_missing(order),
        start=False,
    )


async def orders(ctx: Services, *, campaign: str, open_only: bool = False) -> list[Order]:
    """A campaign's orders and where each stands (from the read side)."""
    found = await ctx.read(views.orders, campaign, open_only=open_only)
    if found is None:
        raise NotFound(f"no campaign {campaign!r}")
    return found

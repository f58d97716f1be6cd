"""The convener (召集人): the escalations that reached it, and its answer to one (批示), sent to
the obligation's unit workflow (or the rectification order's workflow) as an Update that carries
the account, which decides (only the plan's convener, only once the escalation reached the
convener's level) and records it on the audit chain; the unit and the office are told in their
inbox and by their channels (e-mail, webhook, group robots)."""

from __future__ import annotations

from activities.store import convener as store
from models.convener import ConvenerPage
from models.obligation import workflow_id_of
from models.payloads import Instruct, ObligationView
from models.rectification import InstructRectification, RectificationView
from services.actors import Actor
from services.context import Services
from services.errors import Forbidden, Invalid, NotFound
from services.obligations import campaign_of
from services.rectification import order_campaign
from services.updates import require_open, send
from workflows import RectificationWorkflow, UnitWorkflow

READERS = ("office", "auditor", "convener")


async def escalations(ctx: Services, *, actor: Actor, campaign: str) -> ConvenerPage:
    """What reached the convener, newest first, with the answers given (the readers' page)."""
    if actor.role not in READERS:
        raise Forbidden("召集人批示页仅供召集人、联席会议办公室和审计查看")
    page = await ctx.read(store.convener_page, campaign)
    if page is None:
        raise NotFound(f"no campaign {campaign!r}")
    return page


def _said(actor: Actor, text: str) -> str:
    """The answer's text, once the actor may answer at all."""
    if actor.role != "convener":
        raise Forbidden("只有召集人可以批示")
    text = text.strip()
    if not text or len(text) > 4000:
        raise Invalid("批示内容不能为空，且不超过 4000 字")
    return text


async def answer(ctx: Services, *, actor: Actor, obligation: str, text: str) -> ObligationView:
    """批示 on an obligation whose escalation reached the convener; only the convener answers."""
    text = _said(actor, text)
    campaign = campaign_of(obligation)
    convener = await ctx.read(store.escalated_to_convener, campaign, obligation)
    if convener is None:
        raise NotFound(f"no escalation of {obligation} reached the convener")
    await require_open(ctx, campaign)
    arg = Instruct(obligation_id=obligation, unit_id=convener, text=text, account=actor.account, role=actor.role)
    return await send(
        ctx,
        workflow_id=workflow_id_of(obligation),
        update=UnitWorkflow.instruct,
        arg=arg,
        campaign=campaign,
        missing=f"no open workflow holds {obligation}: its phase has finished",
    )


async def answer_order(ctx: Services, *, actor: Actor, order: str, text: str) -> RectificationView:
    """批示 on a 责令整改 order (its workflow id, `CAMPAIGN/rectify/…`) whose escalation reached
    the convener; only the convener answers."""
    text = _said(actor, text)
    campaign = order_campaign(order)
    convener = await ctx.read(store.order_escalated_to_convener, campaign, order)
    if convener is None:
        raise NotFound(f"no escalation of {order} reached the convener")
    await require_open(ctx, campaign)
    arg = InstructRectification(unit_id=convener, text=text, account=actor.account, role=actor.role)
    # Answering an existing order never starts a Temporal server: a fresh one has no orders.
    return await send(
        ctx,
        workflow_id=order,
        update=RectificationWorkflow.instruct,
        arg=arg,
        campaign=campaign,
        missing=f"no workflow follows {order}: it ended (resolved, or closed with the campaign)",
        start=False,
    )

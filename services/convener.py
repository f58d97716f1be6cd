"""The convener (召集人): the escalations that reached it, and its answer to one (批示), sent to
the obligation's unit workflow as an Update that carries the account, which decides (only the
plan's convener, only once the escalation reached the convener's level) and records it on the
audit chain; the mirror puts it in the unit's and the office's inbox."""

from __future__ import annotations

from activities.store import convener as store
from models.convener import ConvenerPage
from models.obligation import workflow_id_of
from models.payloads import Instruct, ObligationView
from services.actors import Actor
from services.context import Services
from services.errors import Forbidden, Invalid, NotFound
from services.obligations import campaign_of
from services.updates import require_open, send
from workflows import UnitWorkflow

READERS = ("office", "auditor", "convener")


async def escalations(ctx: Services, *, actor: Actor, campaign: str) -> ConvenerPage:
    """What reached the convener, newest first, with the answers given (the readers' page)."""
    if actor.role not in READERS:
        raise Forbidden("召集人批示页仅供召集人、联席会议办公室和审计查看")
    page = await ctx.read(store.convener_page, campaign)
    if page is None:
        raise NotFound(f"no campaign {campaign!r}")
    return page


async def answer(ctx: Services, *, actor: Actor, obligation: str, text: str) -> ObligationView:
    """批示 on an obligation whose escalation reached the convener; only the convener answers."""
    if actor.role != "convener":
        raise Forbidden("只有召集人可以批示")
    campaign = campaign_of(obligation)
    text = text.strip()
    if not text or len(text) > 4000:
        raise Invalid("批示内容不能为空，且不超过 4000 字")
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

"""The papers and orders as the web door shows them, by role: 督办通知 (an agency sees those
addressed to it), 通报 (everyone), 责令整改 (an agency its own; the office reviews); the stored
files handed out only once checked against their recorded SHA-256 (`services.papers`)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from activities.store import board as board_views
from activities.store import views
from models.views import Notice, Order, PaperFile
from services import papers
from services.actors import Actor
from services.context import Services
from services.errors import NotFound
from services.rectification import order_campaign


class CampaignPapers(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign: str
    notices: list[Notice]
    bulletins: list[date]
    orders: list[Order]


def _mine(actor: Actor, unit: str) -> bool:
    return actor.role != "agency" or actor.unit == unit


async def campaign_papers(ctx: Services, *, actor: Actor, campaign: str) -> CampaignPapers:
    orders = await ctx.read(views.orders, campaign)
    if orders is None:
        raise NotFound(f"no campaign {campaign!r}")
    notices = await papers.notices(ctx, campaign=campaign)
    return CampaignPapers(
        campaign=campaign,
        notices=[n for n in notices if _mine(actor, n.unit)],
        bulletins=await ctx.read(board_views.bulletin_months, campaign),
        orders=[o for o in orders if _mine(actor, o.unit_id)],
    )


async def notice_file(ctx: Services, *, actor: Actor, campaign: str, code: str, fmt: str) -> PaperFile:
    paper = await papers.notice(ctx, code=code, campaign=campaign)
    found = paper.files.get(fmt)
    if not _mine(actor, paper.notice.unit) or found is None:
        raise NotFound(f"no {fmt.upper()} of notice {code!r}")
    return found


async def bulletin_file(ctx: Services, *, campaign: str, month: date, fmt: str) -> PaperFile:
    """A month's 通报 (docx, pdf) or its 台账 (xlsx): published to every unit, so every role reads it."""
    found = (await papers.bulletin(ctx, campaign=campaign, month=month)).files.get(fmt)
    if found is None:
        raise NotFound(f"no {fmt.upper()} of the {month:%Y-%m} bulletin")
    return found


async def one_order(ctx: Services, *, actor: Actor, order: str) -> Order:
    """An order the actor may see: NotFound if none, or another unit's and the actor an agency."""
    orders = await ctx.read(views.orders, order_campaign(order)) or []
    found = next((o for o in orders if o.order_id == order), None)
    if found is None or not _mine(actor, found.unit_id):
        raise NotFound(f"no rectification order {order!r}")
    return found


async def unit_orders(ctx: Services, *, actor: Actor, campaign: str, unit: str) -> list[Order]:
    """A unit's orders for its page (an agency: its own unit's only, another's is not found)."""
    if not _mine(actor, unit):
        raise NotFound(f"no unit {unit!r} in {campaign}")
    orders = await ctx.read(views.orders, campaign)
    if orders is None:
        raise NotFound(f"no campaign {campaign!r}")
    return [o for o in orders if o.unit_id == unit]

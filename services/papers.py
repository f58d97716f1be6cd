"""The papers a campaign issued, read back: 督办通知, 通报 (with the 台账), and the push ledger.

Stored files come checked against the SHA-256 recorded when they were issued: a file that does
not match is refused (Conflict), never handed out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from activities.paperwork import ChecksumMismatch, PaperNotFound, UnknownCampaign, notice_by_code
from activities.paperwork.bulletin_request import file_bulletin_on_request
from activities.paperwork.on_request import file_on_request
from activities.store import views
from models.delivery import DeliveryStatus
from models.views import BulletinPaper, DeliveryLedger, Notice, NoticePaper
from services.context import Services
from services.errors import Conflict, Invalid, NotFound


@asynccontextmanager
async def _papers() -> AsyncIterator[None]:
    try:
        yield
    except (PaperNotFound, UnknownCampaign) as e:
        if "name one with --campaign" in str(e):  # several campaigns number alike: say which
            raise Invalid(str(e)) from None
        raise NotFound(str(e)) from None
    except ChecksumMismatch as e:
        raise Conflict(f"refusing to write a file that does not match its record: {e}") from None


async def notices(ctx: Services, *, campaign: str, unit: str | None = None) -> list[Notice]:
    """A campaign's 督办通知 in number order; with `unit`, those to that unit."""
    async with _papers(), ctx.reading() as conn:
        found = await views.notices(conn, campaign, unit)
        if unit is not None and unit not in await views.unit_names(conn, campaign):
            raise NotFound(f"no unit {unit!r} in campaign {campaign!r}")
    return found


async def notice(ctx: Services, *, code: str, campaign: str | None = None) -> NoticePaper:
    """One 督办通知 as issued, with its checked files (`campaign` tells apart campaigns that number alike)."""
    async with _papers():
        async with ctx.writing() as conn:
            # A rehearsal leaves its notices' papers for the first request: rendered from the
            # document input on the audit chain, stored once, then read back checked as always.
            row = await notice_by_code(conn, code, campaign)
            await file_on_request(conn, row["campaign"], row["key"])
        return await ctx.read(views.notice_paper, code, campaign)


async def bulletin(ctx: Services, *, campaign: str, month: date) -> BulletinPaper:
    """A month's 通报 as published, with its checked files."""
    first = month.replace(day=1)
    async with _papers():
        async with ctx.writing() as conn:
            # A rehearsal leaves its bulletins' papers for the first request, as its notices':
            # rendered from the document input on the audit chain, stored once, read back checked.
            await file_bulletin_on_request(conn, campaign, first)
        return await ctx.read(views.bulletin_paper, campaign, first)


async def deliveries(ctx: Services, *, campaign: str, status: DeliveryStatus | None = None) -> DeliveryLedger:
    """The e-mail and webhook ledger of a campaign (with `status`, those rows only)."""
    found = await ctx.read(views.delivery_ledger, campaign, status)
    if found is None:
        raise NotFound(f"no campaign {campaign!r}")
    return found

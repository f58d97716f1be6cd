"""For auditors (and the office, and the convener): the campaign's timeline in plan time, an
obligation's or a 责令整改 order's `audit explain`, and `audit verify` run on demand. Read only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services import audit, pages, paper_pages
from services.obligations import campaign_of
from services.rectification import order_campaign
from web.app import render
from web.auth import CallerDep

router = APIRouter()


@router.get("/c/{campaign}/audit")
async def timeline(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    lines = await pages.timeline(who.ctx, actor=actor, campaign=campaign)
    return render(request, "timeline.html", who=who, campaign=campaign, lines=lines)


@router.get("/explain/{obligation:path}")
async def explain(request: Request, obligation: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign_of(obligation))
    await pages.one_obligation(who.ctx, actor=actor, obligation=obligation)  # an agency: its own only
    found = await audit.explain(who.ctx, obligation=obligation)
    return render(request, "explain.html", who=who, explanation=found)


@router.get("/explain-order/{order:path}")
async def explain_order(request: Request, order: str, who: CallerDep) -> Response:
    actor = await who.actor(order_campaign(order))
    await paper_pages.one_order(who.ctx, actor=actor, order=order)  # an agency: its own only
    found = await audit.explain_order(who.ctx, order=order)
    return render(request, "explain_order.html", who=who, explanation=found)


@router.get("/c/{campaign}/verify")
async def verify(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    pages.reader(actor)
    verdict = await audit.verify(who.ctx, campaign=campaign)
    return render(request, "verify.html", who=who, campaign=campaign, verdict=verdict)


@router.get("/c/{campaign}/export")
async def export(campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    name, data = await pages.audit_archive(who.ctx, actor=actor, campaign=campaign)
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )

"""The convener's page (the escalations that reached the convener, of obligations and of 责令整改
orders, with their answers) and its answer to one (批示). The office and the auditor read the
page; only the convener answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services import convener
from services.obligations import campaign_of
from services.rectification import order_campaign
from web.app import render
from web.auth import CallerDep, PostDep

router = APIRouter()


@router.get("/c/{campaign}/convener")
async def convener_page(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    page = await convener.escalations(who.ctx, actor=actor, campaign=campaign)
    return render(request, "convener.html", who=who, page=page, can_answer=actor.role == "convener")


@router.post("/act/instruct/{obligation:path}")
async def instruct(obligation: str, who: PostDep, text: Annotated[str, Form(max_length=4000)] = "") -> Response:
    actor = await who.actor(campaign_of(obligation))
    await convener.answer(who.ctx, actor=actor, obligation=obligation, text=text)
    return RedirectResponse(f"/c/{campaign_of(obligation)}/convener", status_code=303)


@router.post("/act/instruct-order/{order:path}")
async def instruct_order(order: str, who: PostDep, text: Annotated[str, Form(max_length=4000)] = "") -> Response:
    campaign = order_campaign(order)
    await convener.answer_order(who.ctx, actor=await who.actor(campaign), order=order, text=text)
    return RedirectResponse(f"/c/{campaign}/convener", status_code=303)

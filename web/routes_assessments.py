"""The campaign's assessments (达标验收 and the scheduled rounds, what `duban assessments list`
prints) and the 楚天杯 nominations, for the office and the readers; the office's form to
nominate a person (`duban assessments nominate`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from models.plan import ASSESSMENT_KIND_NAMES
from services import assessments
from web.app import render
from web.auth import CallerDep, PostDep

router = APIRouter()


@router.get("/c/{campaign}/assessments")
async def assessments_page(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    page = await assessments.assessments_page(who.ctx, actor=actor, campaign=campaign)
    return render(
        request,
        "assessments.html",
        who=who,
        campaign=campaign,
        page=page,
        kinds=ASSESSMENT_KIND_NAMES,
        can_nominate=actor.role == "office",
    )


@router.post("/c/{campaign}/nominate")
async def nominate(
    campaign: str,
    who: PostDep,
    unit: Annotated[str, Form(min_length=1, max_length=64)],
    person: Annotated[str, Form(min_length=1, max_length=40)],
    reason: Annotated[str, Form(min_length=1, max_length=300)],
    title: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    actor = await who.actor(campaign)
    await assessments.nominate(
        who.ctx, actor=actor, campaign=campaign, person=person, unit=unit, reason=reason, title=title
    )
    return RedirectResponse(f"/c/{campaign}/assessments", status_code=303)

"""The office's board (units × tasks in 三色 with 序时进度, the overdue list, 延期申请 waiting) and
its answer to a 延期申请. The auditor and the convener read the board too; only the office acts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services import obligations, pages
from services.obligations import campaign_of
from web.app import render
from web.auth import CallerDep, PostDep

router = APIRouter()


@router.get("/c/{campaign}/board")
async def board(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    found = await pages.board(who.ctx, actor=actor, campaign=campaign)
    return render(request, "board.html", who=who, actor=actor, board=found)


@router.post("/act/decide/{obligation:path}")
async def decide(
    obligation: str,
    who: PostDep,
    approve: Annotated[str, Form(pattern="^(approve|refuse)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    actor = await who.actor(campaign_of(obligation))
    await pages.writable_obligation(who.ctx, actor=actor, obligation=obligation)  # another unit's: 404
    pages.office_only(actor)
    await obligations.decide_extension(
        who.ctx, actor=actor, obligation=obligation, approve=approve == "approve", reason=reason
    )
    return RedirectResponse(f"/c/{campaign_of(obligation)}/board", status_code=303)

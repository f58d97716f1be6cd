"""The office's board (units × tasks in 三色 with 序时进度, the overdue list, 延期申请 waiting) and
its answer to a 延期申请. The auditor and the convener read the board too; only the office acts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from models.board_summary import BoardSummary
from services import obligations, pages
from services.obligations import campaign_of
from web.app import render
from web.auth import CallerDep, PostDep

router = APIRouter()


@router.get("/c/{campaign}/board")
async def board(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    found = await pages.board(who.ctx, actor=actor, campaign=campaign)
    if isinstance(found, BoardSummary):  # a province's: counts, and the grid a page at a time
        return render(request, "board_summary.html", who=who, actor=actor, board=found)
    return render(request, "board.html", who=who, actor=actor, board=found)


@router.get("/c/{campaign}/board/grid")
async def board_grid(
    request: Request,
    campaign: str,
    who: CallerDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    county: Annotated[str | None, Query(pattern="^(c[0-9]{1,6})?$")] = None,
    task: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> Response:
    """The units × tasks grid a page of towns at a time (drill-down from a province's board)."""
    actor = await who.actor(campaign)
    found = await pages.board_grid(who.ctx, actor=actor, campaign=campaign, page=page, county=county, task=task)
    return render(request, "board_grid.html", who=who, actor=actor, board=found)


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

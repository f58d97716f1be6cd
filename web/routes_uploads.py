"""The office's uploads: launch a campaign from a plan file, import a filled score sheet. A file
that does not read is shown as the CLI prints it (`FILE:LINE: message`, every bad cell)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from services import pages, uploads
from web.app import render
from web.auth import Caller, CallerDep, PostDep

router = APIRouter()


async def _read(who: Caller, f: UploadFile) -> bytes:
    limit = who.ctx.settings.web_upload_limit_bytes
    content = await f.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(status_code=413, detail=f"文件超过 {limit:,} 字节")
    return content


@router.get("/launch")
async def launch_form(request: Request, who: CallerDep) -> Response:
    pages.office_only(await who.actor(None))
    return render(request, "launch.html", who=who, rulesets=uploads.shipped_rulesets())


@router.post("/launch")
async def launch(who: PostDep, plan: UploadFile, ruleset: Annotated[str, Form(max_length=100)] = "") -> Response:
    actor = await who.actor(None)
    pages.office_only(actor)
    done = await uploads.launch_uploaded(
        who.ctx, actor=actor, filename=plan.filename or "", content=await _read(who, plan), ruleset=ruleset or None
    )
    return RedirectResponse(f"/c/{done.campaign_id}/board", status_code=303)


@router.get("/c/{campaign}/scores")
async def scores_form(request: Request, campaign: str, who: CallerDep) -> Response:
    pages.office_only(await who.actor(campaign))
    return render(request, "scores.html", who=who, campaign=campaign, done=None)


@router.post("/c/{campaign}/scores")
async def scores_import(
    request: Request,
    campaign: str,
    who: PostDep,
    sheet: Annotated[str, Form(min_length=1, max_length=100)],
    workbook: UploadFile,
) -> Response:
    actor = await who.actor(campaign)
    pages.office_only(actor)
    content = await _read(who, workbook)
    done = await uploads.import_score_sheet(
        who.ctx, actor=actor, campaign=campaign, sheet_id=sheet, filename=workbook.filename or "", content=content
    )
    return render(request, "scores.html", who=who, campaign=campaign, done=done)

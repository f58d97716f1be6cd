"""An agency's page (its obligations with working days left), one obligation's page with its
forms, and what an agency does: 签收, 进展上报 with evidence, 办结, 延期申请. The office may act on
every obligation; an agency on its own (another unit's answers 404); readers on none (403)."""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from services import obligations, pages, paper_pages
from services.actors import Actor
from services.obligations import EvidenceFile, campaign_of
from web.app import render
from web.auth import Caller, CallerDep, PostDep

router = APIRouter()

Text = Annotated[str, Form(max_length=4000)]
# A file part without a file name arrives as text (an empty file input): taken, then skipped.
Files = Annotated[list[UploadFile | str] | None, Form()]


@router.get("/c/{campaign}/unit/{unit}")
async def unit_page(request: Request, campaign: str, unit: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    lines = await pages.unit_obligations(who.ctx, actor=actor, campaign=campaign, unit=unit)
    orders = await paper_pages.unit_orders(who.ctx, actor=actor, campaign=campaign, unit=unit)
    inbox = await obligations.inbox(who.ctx, unit=unit, campaign=campaign, limit=20)
    return render(request, "unit.html", who=who, campaign=campaign, unit=unit, lines=lines, orders=orders, inbox=inbox)


@router.get("/o/{obligation:path}")
async def obligation_page(request: Request, obligation: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign_of(obligation))
    line = await pages.one_obligation(who.ctx, actor=actor, obligation=obligation)
    writes = actor.role in ("office", "agency")
    return render(request, "obligation.html", who=who, actor=actor, ob=line, writes=writes)


async def _writer(who: Caller, obligation: str) -> Actor:
    actor = await who.actor(campaign_of(obligation))
    await pages.writable_obligation(who.ctx, actor=actor, obligation=obligation)
    return actor


def _back(obligation: str) -> Response:
    return RedirectResponse(f"/o/{obligation}", status_code=303)


async def _evidence(who: Caller, files: list[UploadFile | str] | None) -> list[EvidenceFile]:
    """The uploaded files, read up to the web's limit (the rule set's own size and type limits
    are the workflow's, so a refused file is on the record). Only the file's base name is kept:
    files are stored and served by SHA-256, never by a path the user chose."""
    limit = who.ctx.settings.web_upload_limit_bytes
    out = []
    for f in files or []:
        if isinstance(f, str) or not f.filename:
            continue
        content = await f.read(limit + 1)
        if len(content) > limit:
            raise HTTPException(status_code=413, detail=f"{f.filename}: 文件超过 {limit:,} 字节")
        name = PureWindowsPath(PurePosixPath(f.filename).name).name.strip()[:200] or "file"
        out.append(EvidenceFile(name=name, content=content))
    return out


@router.post("/act/ack/{obligation:path}")
async def ack(obligation: str, who: PostDep) -> Response:
    actor = await _writer(who, obligation)
    await obligations.acknowledge(who.ctx, actor=actor, obligation=obligation)
    return _back(obligation)


@router.post("/act/progress/{obligation:path}")
async def progress(
    obligation: str,
    who: PostDep,
    percent: Annotated[int, Form(ge=0, le=100)],
    text: Text = "",
    evidence: Files = None,
) -> Response:
    actor = await _writer(who, obligation)
    files = await _evidence(who, evidence)
    refs = await obligations.store_evidence(who.ctx, files=files) if files else []
    await obligations.report_progress(
        who.ctx, actor=actor, obligation=obligation, percent=percent, text=text, evidence=refs
    )
    return _back(obligation)


@router.post("/act/complete/{obligation:path}")
async def complete(obligation: str, who: PostDep, text: Text = "", evidence: Files = None) -> Response:
    actor = await _writer(who, obligation)
    files = await _evidence(who, evidence)
    refs = await obligations.store_evidence(who.ctx, files=files) if files else []
    await obligations.complete(who.ctx, actor=actor, obligation=obligation, text=text, evidence=refs)
    return _back(obligation)


@router.post("/act/extend/{obligation:path}")
async def extend(
    obligation: str,
    who: PostDep,
    due: Annotated[date, Form()],
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    actor = await _writer(who, obligation)
    await obligations.request_extension(who.ctx, actor=actor, obligation=obligation, due=due, reason=reason)
    return _back(obligation)

"""Papers and orders: the campaign's 督办通知 and 通报 with their DOCX/PDF/XLSX downloads, the
责令整改 orders with the agency's 整改报告 and the office's review."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from models.views import PaperFile
from services import pages, paper_pages, rectification
from services.errors import Invalid
from services.rectification import order_campaign
from web.app import render
from web.auth import CallerDep, PostDep

router = APIRouter()

MEDIA = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _download(f: PaperFile) -> Response:
    # The file name is ours (as stored), quoted for the header; never a path from the request.
    disposition = f"attachment; filename*=UTF-8''{quote(f.filename)}"
    return Response(
        f.content,
        media_type=MEDIA.get(f.format, "application/octet-stream"),
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
        },
    )


def _format(fmt: str) -> str:
    if fmt not in MEDIA:
        raise Invalid(f"{fmt!r} is not a format: docx, pdf or xlsx")
    return fmt


@router.get("/c/{campaign}/papers")
async def papers_page(request: Request, campaign: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    found = await paper_pages.campaign_papers(who.ctx, actor=actor, campaign=campaign)
    return render(request, "papers.html", who=who, actor=actor, papers=found)


@router.get("/c/{campaign}/notice/{code}/{fmt}")
async def notice_download(campaign: str, code: str, fmt: str, who: CallerDep) -> Response:
    actor = await who.actor(campaign)
    return _download(
        await paper_pages.notice_file(who.ctx, actor=actor, campaign=campaign, code=code, fmt=_format(fmt))
    )


@router.get("/c/{campaign}/bulletin/{month}/{fmt}")
async def bulletin_download(campaign: str, month: str, fmt: str, who: CallerDep) -> Response:
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise Invalid(f"{month!r} is not a month (YYYY-MM)") from None
    return _download(await paper_pages.bulletin_file(who.ctx, campaign=campaign, month=first, fmt=_format(fmt)))


@router.post("/act/rectify-report/{order:path}")
async def rectify_report(
    order: str,
    who: PostDep,
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    evidence: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    campaign = order_campaign(order)
    actor = await who.actor(campaign)
    pages.may_write(actor)
    await paper_pages.one_order(who.ctx, actor=actor, order=order)
    refs = [line.strip() for line in evidence.splitlines() if line.strip()]
    await rectification.rectification_report(who.ctx, actor=actor, order=order, text=text, evidence=refs)
    return RedirectResponse(f"/c/{campaign}/papers", status_code=303)


@router.post("/act/rectify-review/{order:path}")
async def rectify_review(
    order: str,
    who: PostDep,
    accept: Annotated[str, Form(pattern="^(accept|reject)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
    new_due: Annotated[date | None, Form()] = None,
) -> Response:
    campaign = order_campaign(order)
    actor = await who.actor(campaign)
    pages.may_write(actor)
    await paper_pages.one_order(who.ctx, actor=actor, order=order)  # another unit's: 404
    pages.office_only(actor)
    await rectification.rectification_review(
        who.ctx, actor=actor, order=order, accept=accept == "accept", reason=reason, new_due=new_due
    )
    return RedirectResponse(f"/c/{campaign}/papers", status_code=303)

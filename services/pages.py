"""What each role may see and do, decided once for every door that shows pages (the web):

- the office: everything in the campaign;
- an agency: its own obligations only; another unit's is *not found* (not "forbidden"), so an
  agency cannot learn by URL which obligations exist elsewhere;
- an auditor (and the convener): read everything, write nothing (Forbidden).

Each function is one question a page asks, answered from the read side.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from activities.store import board as board_views
from activities.store import board_province, views
from models.board import AccountView, Board, ObligationLine
from models.board_summary import FULL_BOARD_MAX_UNITS, BoardPage, BoardSummary
from models.views import AuditLine, CampaignHead
from services import audit
from services.actors import Actor
from services.context import Services
from services.errors import Forbidden, NotFound
from services.obligations import campaign_of

READERS = ("office", "auditor", "convener")


def may_write(actor: Actor) -> None:
    """Refuse every write to an auditor or a convener (the convener's one write, its 批示, is
    `services.convener.answer`'s: see docs/ROLES.md)."""
    if actor.role not in ("office", "agency"):
        raise Forbidden(f"{actor.role} 角色只能查看，不能办理")


def office_only(actor: Actor) -> None:
    if actor.role != "office":
        raise Forbidden("只有联席会议办公室可以办理此事项")


async def campaigns(ctx: Services) -> list[CampaignHead]:
    return await ctx.read(board_views.campaign_list)


async def board(ctx: Services, *, actor: Actor, campaign: str) -> Board | BoardSummary:
    """The office's board (an auditor and the convener read it too): the whole units × tasks grid
    up to FULL_BOARD_MAX_UNITS units, above that the counts by county and task (a province's)."""
    if actor.role not in READERS:
        raise Forbidden("看板仅供联席会议办公室、审计和召集人查看")
    found: Board | BoardSummary | None
    if await ctx.read(board_province.unit_count, campaign) > FULL_BOARD_MAX_UNITS:
        found = await ctx.read(board_province.summary, campaign)
    else:
        found = await ctx.read(board_views.board, campaign)
    if found is None:
        raise NotFound(f"no campaign {campaign!r}")
    return found


async def board_grid(
    ctx: Services, *, actor: Actor, campaign: str, page: int, county: str | None, task: int | None
) -> BoardPage:
    """A page of the units × tasks grid (a county's towns, one task's column): the readers'."""
    if actor.role not in READERS:
        raise Forbidden("看板仅供联席会议办公室、审计和召集人查看")
    found = await ctx.read(board_province.grid_page, campaign, page=page, county=county, task=task)
    if found is None:
        raise NotFound(f"no campaign {campaign!r}")
    return found


async def unit_obligations(ctx: Services, *, actor: Actor, campaign: str, unit: str) -> list[ObligationLine]:
    """A unit's obligations: an agency's own, or any unit's for the readers and the office."""
    if actor.role == "agency" and actor.unit != unit:
        raise NotFound(f"no unit {unit!r} in {campaign}")
    lines = await ctx.read(board_views.obligation_lines, campaign, unit=unit)
    if lines is None:
        raise NotFound(f"no campaign {campaign!r}")
    return lines


async def one_obligation(ctx: Services, *, actor: Actor, obligation: str) -> ObligationLine:
    """One obligation as the actor may see it: NotFound when it does not exist, or is another
    unit's and the actor an agency."""
    campaign = campaign_of(obligation)
    lines = await ctx.read(board_views.obligation_lines, campaign, obligation=obligation)
    if not lines or (actor.role == "agency" and lines[0].unit_id != actor.unit):
        raise NotFound(f"no obligation {obligation!r}")
    return lines[0]


async def writable_obligation(ctx: Services, *, actor: Actor, obligation: str) -> ObligationLine:
    """`obligation`, for an actor about to act on it (office or its own agency)."""
    may_write(actor)
    return await one_obligation(ctx, actor=actor, obligation=obligation)


async def feed_lines(ctx: Services, *, account: AccountView) -> list[ObligationLine]:
    """A calendar feed's obligations: the open ones the account may see, in every campaign (an
    agency's own unit's; everyone's for the office and the readers)."""
    unit = account.unit
    found: list[ObligationLine] = []
    for c in await campaigns(ctx):
        lines = await ctx.read(board_views.obligation_lines, c.id, unit=unit)
        found += lines or []
    return [ob for ob in found if ob.state != "completed"]


def reader(actor: Actor) -> None:
    """The audit views: the auditor, the office and the convener."""
    if actor.role not in READERS:
        raise Forbidden("审计视图仅供审计、联席会议办公室和召集人查看")


async def timeline(ctx: Services, *, actor: Actor, campaign: str) -> list[AuditLine]:
    """The campaign's audit chain in plan time, row by row."""
    reader(actor)
    if await ctx.read(views.campaign_head, campaign) is None:
        raise NotFound(f"no campaign {campaign!r}")
    return await ctx.read(views.audit_trail, campaign)


async def audit_archive(ctx: Services, *, actor: Actor, campaign: str) -> tuple[str, bytes]:
    """`duban audit export` as one ZIP (audit.jsonl, audit.xlsx, the histories the server has):
    its file name and bytes. Built in a folder of our own, removed after."""
    reader(actor)
    with tempfile.TemporaryDirectory(prefix="duban-export-") as tmp:
        folder = Path(tmp) / "export"
        await audit.export_campaign(ctx, campaign=campaign, folder=folder)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(folder).as_posix())
    return f"{campaign}-audit.zip", buffer.getvalue()

"""The assessments held in a campaign (达标验收 and the plan's scheduled rounds), and 楚天杯
nominations of individuals by the office; the web's page of both."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from activities.store import nominations as stored
from activities.store import scores as stored_scores
from activities.store import views
from models.commendation import Nomination
from models.frozen import Frozen
from models.time import CST
from models.views import AssessmentList
from services.actors import Actor
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.pages import READERS


class AssessmentsPage(Frozen):
    """What the web's assessments page shows: every unit judged, the counts per kind, and the
    楚天杯 nominations made so far (from the chain), in the order made."""

    held: AssessmentList
    nominations: list[Nomination]


async def list_assessments(ctx: Services, *, campaign: str, kind: str | None = None) -> AssessmentList:
    """Every unit judged, in the order held, and per kind the rounds held, judged and passed."""
    async with ctx.reading() as conn:
        if await views.campaign_head(conn, campaign) is None:
            raise NotFound(f"no campaign {campaign!r}")
        rows = await views.assessments_held(conn, campaign)
        names = await views.unit_names(conn, campaign)
    kinds = views.by_kind(rows)
    if kind is not None:
        if kind not in {k.kind for k in kinds}:
            held = ", ".join(k.kind for k in kinds) or "none yet"
            raise Invalid(f"no {kind!r} assessment held in {campaign} (held: {held})")
        rows = [r for r in rows if r.kind == kind]
    return AssessmentList(campaign=campaign, names=names, kinds=kinds, assessments=rows)


async def assessments_page(ctx: Services, *, actor: Actor, campaign: str) -> AssessmentsPage:
    """The assessments and the nominations, for the office and the readers (auditor, convener)."""
    if actor.role not in READERS:
        raise Forbidden("考核结果仅供联席会议办公室、审计和召集人查看")
    held = await list_assessments(ctx, campaign=campaign)
    return AssessmentsPage(held=held, nominations=await ctx.read(stored.nominations, campaign))


async def nominate(
    ctx: Services, *, actor: Actor, campaign: str, person: str, unit: str, reason: str, title: str = ""
) -> tuple[Nomination, bool]:
    """The office nominates a person of one of the plan's units for 楚天杯: on the audit chain
    and in the final report. Returns the nomination and whether it was new (the same person
    of the same unit again changes nothing). Refused once the final evaluation is made."""
    if actor.role != "office":
        raise Forbidden("only the office nominates for 楚天杯")
    async with ctx.writing() as conn:
        if await views.campaign_head(conn, campaign) is None:
            raise NotFound(f"no campaign {campaign!r}")
        try:
            p = await stored_scores.pinned(conn, campaign, lock=True)
        except stored_scores.Refused as e:
            raise Conflict(f"{e}: its evaluation, and so 楚天杯, is not held in duban") from None
        if p.status == "closed" or p.evaluated is not None:
            raise Conflict(f"campaign {campaign}'s final evaluation is made: its report names no one more")
        units = p.plan.directory.by_id()
        if unit not in units:
            raise Invalid(f"no unit {unit!r} in the plan of {campaign}")
        now = datetime.now(UTC)
        try:
            n = Nomination(
                person=person.strip(),
                unit_id=unit,
                title=title.strip(),
                reason=reason.strip(),
                nominated_on=p.plan_now(now).astimezone(CST).date(),
                by=actor.account,
            )
        except ValidationError as e:
            raise Invalid("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())) from None
        return n, await stored.nominate(conn, p, n, now=now)

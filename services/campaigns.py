"""The office's campaign-wide actions: launch, amend the plan; and a campaign's status."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.store import views
from models.assessment import ScoreBook
from models.payloads import AmendPlan, PlanAmended
from models.plan import Plan
from models.ruleset import RuleSet
from models.time import Clock
from models.views import CampaignStatus
from services.actors import Actor
from services.context import Services
from services.errors import Conflict, NotFound
from services.plans import prepare
from services.updates import require_open, send_to_campaign
from workflows import CampaignWorkflow


class Launched(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign_id: str
    clock: Clock
    plan_time: datetime
    """Plan time at launch."""
    scorebook: ScoreBook | None
    push: bool
    """Whether the campaign sends e-mail and webhook pushes (the contacts file exists)."""
    contacts_file: Path
    missing_years: list[int]
    """Years the campaign spans that no calendar source knows (Monday–Friday are counted)."""


async def launch(
    ctx: Services,
    *,
    actor: Actor,
    plan: Plan,
    ruleset: RuleSet,
    scorebook: ScoreBook | None = None,
    campaign_id: str | None = None,
    speed: int = 1,
    plan_from: date | None = None,
) -> Launched:
    """Start a campaign of the plan on the configured Temporal (its id: PLAN-YYYYMMDDHHMM unless given)."""
    settings = ctx.settings
    now = datetime.now(UTC)
    cid = campaign_id or f"{plan.id}-{now:%Y%m%d%H%M}"
    lp = prepare(
        plan,
        ruleset,
        campaign_id=cid,
        server_now=now,
        live=True,
        speed=speed,
        plan_from=plan_from,
        scorebook=scorebook,
        # Workers built with these settings queue pushes when the contacts file exists (worker.run):
        # the campaign then runs its dispatch loop to send them.
        push=settings.contacts_file.is_file(),
        settings=settings,
        # On a server whose clock is the database's: a storm of deadlines shows on time (rules.arming).
        arm_ahead_seconds=settings.arm_ahead_seconds,
    )
    client = await ctx.client()
    try:
        await client.start_workflow(CampaignWorkflow.run, lp.input, id=cid, task_queue=settings.task_queue)
    except WorkflowAlreadyStartedError:
        raise Conflict(f"campaign {cid} is already running: choose another --id") from None
    clock = lp.input.context.clock
    return Launched(
        campaign_id=cid,
        clock=clock,
        plan_time=clock.plan_time(now),
        scorebook=scorebook,
        push=lp.input.context.push,
        contacts_file=settings.contacts_file,
        missing_years=lp.missing_years,
    )


async def status(ctx: Services, *, campaign: str) -> CampaignStatus:
    """A campaign's counts from the read side."""
    found = await ctx.read(views.campaign_status, campaign)
    if found is None:
        raise NotFound(f"no campaign {campaign!r}")
    return found


async def amend_plan(ctx: Services, *, actor: Actor, campaign: str, plan: Plan, path: str, by: str) -> PlanAmended:
    """Amend a running campaign's plan: its obligations are added, moved or withdrawn, on the record.

    Args:
        by: who amends it, as the audit trail names them.
    """
    await require_open(ctx, campaign)
    return await send_to_campaign(
        ctx,
        campaign=campaign,
        update=CampaignWorkflow.amend_plan,
        arg=AmendPlan(plan=plan, path=path, actor=by, account=actor.account),
        what="nothing amended",
    )

"""Rule sets on a campaign: what another one would have done, why each action fired, and
installing a new one on a running campaign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activities.rulebook import Record, UnknownCampaign, WhatIf, explain_obligation, load, whatif
from models.calendar import YearCalendar
from models.payloads import InstallRules, RulesInstalled
from rules.loading import parse_ruleset
from services.actors import Actor
from services.context import Services
from services.errors import Conflict, NotFound
from services.obligations import campaign_of
from services.updates import closed_message, send_to_campaign
from workflows import CampaignWorkflow


async def record(ctx: Services, *, campaign: str, obligation: str | None = None) -> Record:
    """The campaign as the record has it (with `obligation`, that obligation's rows only)."""
    try:
        return await ctx.read(load, campaign, obligation_id=obligation)
    except UnknownCampaign as e:
        raise NotFound(str(e)) from None


@dataclass(frozen=True)
class WhatIfAnswer:
    """A dataclass, as the record and the comparison it holds are (`activities.rulebook`)."""

    record: Record
    result: WhatIf


async def what_if(
    ctx: Services,
    *,
    campaign: str,
    ruleset_text: str,
    ruleset_path: str,
    calendar_years: dict[int, YearCalendar] | None = None,
) -> WhatIfAnswer:
    """What the rule set (and the calendar's years, replacing the pinned ones) would have done,
    obligation by obligation, from the recorded facts. Changes nothing."""
    rec = await record(ctx, campaign=campaign)
    rs = parse_ruleset(ruleset_text, path=ruleset_path, plan=rec.plan)
    calendar = None
    if calendar_years is not None:
        merged = {y.year: y for y in rec.calendar.years} | calendar_years
        calendar = rec.calendar.model_copy(update={"years": tuple(merged[y] for y in sorted(merged))})
    return WhatIfAnswer(record=rec, result=whatif(rec, rs, calendar))


async def explain(ctx: Services, *, obligation: str) -> dict[str, Any]:
    """Each action taken on the obligation with the rule that fired it and what it saw; then the
    firings still to come under the rule set in force."""
    cid = campaign_of(obligation)
    rec = await record(ctx, campaign=cid, obligation=obligation)
    if obligation not in rec.specs:
        raise NotFound(f"campaign {cid} has no obligation {obligation!r}")
    return explain_obligation(rec, obligation)


async def install_rules(
    ctx: Services, *, actor: Actor, campaign: str, ruleset_text: str, ruleset_path: str, by: str
) -> RulesInstalled:
    """Install a rule set on a running campaign through a validated Update: one that does not
    parse or compile, or names a role or milestone the plan lacks, changes nothing. It applies
    to future firings only, and the installation is on the audit trail (as `by`'s)."""
    rec = await record(ctx, campaign=campaign)
    if rec.closed:
        raise Conflict(closed_message(campaign, rec.as_of))
    # Read here, within bounds and with FILE:LINE errors: the workflow never parses YAML.
    ruleset = parse_ruleset(ruleset_text, path=ruleset_path, plan=rec.plan)
    return await send_to_campaign(
        ctx,
        campaign=campaign,
        update=CampaignWorkflow.install_rules,
        arg=InstallRules(ruleset=ruleset, path=ruleset_path, actor=by, account=actor.account),
        what="nothing installed",
    )

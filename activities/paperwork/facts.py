"""What a campaign's papers need from its row: names, the title, the severity its rule set gives a notice."""

from __future__ import annotations

import re
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.audit import payload_of
from activities.store.tables import audit_events, campaigns
from models.calendar import CalendarData
from models.plan import Plan
from models.ruleset import NoticeSeverity, RuleSet
from rules.calendar import WorkCalendar

log = structlog.get_logger()

REPLY_WORKING_DAYS = 5
"""A notice asks for a written report within this many working days (its body has always said so)."""
RESOLVED_ORDER_STATES = frozenset({"resolved", "accepted"})
"""States of a 责令整改 order that close it; any other state is still open."""


@dataclass(frozen=True)
class CampaignFacts:
    campaign_id: str
    plan: Plan
    names: dict[str, str]
    """Unit names by id, from the plan's directory."""
    issuer: str
    """The joint meeting office's name: it signs notices and bulletins."""
    calendar: WorkCalendar
    ruleset: RuleSet
    ruleset_hash: str

    def name(self, unit_id: str) -> str:
        return self.names.get(unit_id, unit_id)

    @property
    def campaign_title(self) -> str:
        return campaign_name(self.plan.title)


def campaign_name(plan_title: str) -> str:
    """The campaign as a bulletin names it: the plan's title without 实施方案 or a draft's note
    (随县“擦亮小城镇”建设美丽城镇行动实施方案 → 随县“擦亮小城镇”建设美丽城镇行动)."""
    name = re.sub(r"（[^（）]*）$", "", plan_title.strip())
    name = re.sub(r"(实施方案|工作方案|方案)$", "", name)
    return name or plan_title


class UnknownCampaign(Exception):
    pass


class CampaignPapers:
    """Each campaign's plan, calendar and rule sets, read once from its row (they never change
    for a campaign; a rule set installed later is found by its hash in the audit chain)."""

    def __init__(self) -> None:
        self._facts: dict[str, CampaignFacts] = {}
        self._rulesets: dict[tuple[str, str], RuleSet] = {}

    async def facts(self, conn: AsyncConnection, campaign_id: str) -> CampaignFacts:
        if campaign_id not in self._facts:
            row = (
                await conn.execute(
                    select(campaigns.c.plan, campaigns.c.calendar, campaigns.c.ruleset, campaigns.c.ruleset_hash).where(
                        campaigns.c.id == campaign_id
                    )
                )
            ).first()
            if row is None:
                raise UnknownCampaign(f"no campaign {campaign_id!r}")
            plan = Plan.model_validate(row.plan)
            names = {u.id: u.name for u in plan.directory.units}
            self._facts[campaign_id] = CampaignFacts(
                campaign_id=campaign_id,
                plan=plan,
                names=names,
                issuer=names.get(plan.joint_meeting.office, plan.joint_meeting.office),
                calendar=WorkCalendar(CalendarData.model_validate(row.calendar)),
                ruleset=RuleSet.model_validate(row.ruleset),
                ruleset_hash=row.ruleset_hash,
            )
        return self._facts[campaign_id]

    async def severity(self, conn: AsyncConnection, campaign_id: str, ruleset_hash: str) -> NoticeSeverity:
        """The 三色督办 thresholds of the rule set in force (the one whose hash the action carries)."""
        return (await self.ruleset(conn, campaign_id, ruleset_hash)).severity

    async def ruleset(self, conn: AsyncConnection, campaign_id: str, ruleset_hash: str) -> RuleSet:
        """The rule set in force: the launch one, or one installed later, by its hash."""
        key = (campaign_id, ruleset_hash)
        if key not in self._rulesets:
            facts = await self.facts(conn, campaign_id)
            found = facts.ruleset if ruleset_hash == facts.ruleset_hash else None
            if found is None:
                q = (
                    select(audit_events)
                    .where(
                        audit_events.c.campaign_id == campaign_id,
                        audit_events.c.kind == "rules.installed",
                        audit_events.c.event_key.startswith(f"{campaign_id}#rules#{ruleset_hash}#", autoescape=True),
                    )
                    .limit(1)
                )
                row = (await conn.execute(q)).mappings().first()
                if row is not None:
                    found = RuleSet.model_validate(payload_of(row)["ruleset"])
            if found is None:
                log.warning("rule set not found, launch thresholds used", campaign_id=campaign_id, hash=ruleset_hash)
                found = facts.ruleset
            self._rulesets[key] = found
        return self._rulesets[key]

"""What goes on the chain beside firings: refused attempts, rule sets installed on a running
campaign, plan amendments (with their effect on the obligations)."""

from __future__ import annotations

from datetime import date

import structlog
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.campaign.common import Base, amendment_key, rules_key
from activities.store import audit
from activities.store.tables import obligations
from models.obligation import ObligationSpec, ObligationState
from models.payloads import Act, RecordAmendment, RecordRules, Refusal

log = structlog.get_logger()


class Records(Base):
    @activity.defn(name=Act.record_refusal)
    async def record_refusal(self, inp: Refusal) -> None:
        """A refused attempt goes on the record, with who tried what and why it was refused."""
        async with self.db.begin() as conn:
            await audit.record(
                conn,
                inp,
                key=inp.key,
                kind="refused",
                actor=inp.actor,
                obligation_id=inp.obligation_id if inp.known else None,
                unit_id=inp.actor,
                payload={
                    "verb": inp.verb,
                    "obligation_id": inp.obligation_id,
                    "reason": inp.reason,
                    "text": inp.text,
                    **audit.who(inp.account, inp.role),
                },
            )
        log.info("refused", campaign_id=inp.provenance.campaign_id, obligation_id=inp.obligation_id, reason=inp.reason)

    @activity.defn(name=Act.record_rules)
    async def record_rules(self, inp: RecordRules) -> None:
        """A rule set installed on a running campaign goes on the chain whole (its text is the
        record of which rules ran from when), with the hash it replaced and who installed it."""
        c = inp.change
        async with self.db.begin() as conn:
            await audit.record(
                conn,
                inp,
                key=rules_key(inp),
                kind="rules.installed",
                actor=inp.actor,
                payload={
                    "ruleset_id": c.ruleset.id,
                    "version": c.ruleset.version,
                    "hash": c.ruleset_hash,
                    "previous_hash": inp.previous_hash,
                    "since": c.since.isoformat(),
                    "ruleset": c.ruleset.model_dump(mode="json"),
                    **audit.who(inp.account, None),
                },
            )
        log.info("rules installed", campaign_id=inp.provenance.campaign_id, ruleset_hash=c.ruleset_hash)

    @activity.defn(name=Act.record_amendment)
    async def record_amendment(self, inp: RecordAmendment) -> None:
        """A plan amendment on the read side and the chain: new obligations inserted, withdrawn
        ones marked, moved ones given their new due date, handed-over ones their new lead; one
        audit row with the amended plan whole and every change, before and after."""
        cid = inp.provenance.campaign_id
        added: list[ObligationSpec] = []
        withdrawn: list[str] = []
        moved: dict[str, date] = {}
        relead: dict[str, str] = {}
        for per in inp.diff.units.values():
            for a in per.values():
                added += a.added
                withdrawn += a.withdrawn
                moved.update(a.moved)
                relead.update(a.relead)
        async with self.db.begin() as conn:
            if added:
                rows = [{**s.model_dump(), "campaign_id": cid} for s in added]
                await conn.execute(insert(obligations).on_conflict_do_nothing(), rows)
            if withdrawn:
                gone = ObligationState.withdrawn.value
                await conn.execute(update(obligations).where(obligations.c.id.in_(withdrawn)).values(state=gone))
            for oid, due in moved.items():
                await conn.execute(update(obligations).where(obligations.c.id == oid).values(due=due))
            for oid, lead in relead.items():
                await conn.execute(update(obligations).where(obligations.c.id == oid).values(lead=lead))
            await audit.record(
                conn,
                inp,
                key=amendment_key(inp),
                kind="plan.amended",
                actor=inp.actor,
                payload={
                    "previous_hash": inp.previous_hash,
                    "hash": inp.plan.digest(),
                    "counts": inp.diff.counts(),
                    "added": sorted(s.id for s in added),
                    "withdrawn": sorted(withdrawn),
                    "moved": {k: v.isoformat() for k, v in sorted(moved.items())},
                    "relead": dict(sorted(relead.items())),
                    "plan": inp.plan.model_dump(mode="json"),
                    **audit.who(inp.account, None),
                },
            )
        log.info("plan amended", campaign_id=cid, **inp.diff.counts())

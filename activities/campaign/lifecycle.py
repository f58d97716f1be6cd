"""A campaign's life on the read side: registered with its obligations, obligations loaded by
its units, their changes mirrored, closed with its counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from functools import cached_property
from typing import Any

import structlog
from sqlalchemy import Boolean, DateTime, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity

from activities.campaign.common import Base, campaign_counts
from activities.delivery import InboxItem, write_inbox
from activities.gathering import Gatherer, Written, in_one_transaction
from activities.store import audit
from activities.store.tables import campaigns, obligations
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.payloads import (
    Act,
    CampaignResult,
    CloseCampaign,
    LoadObligations,
    MirrorBatch,
    MirroredHere,
    RegisterCampaign,
    StateChange,
)
from rules.convener import INSTRUCTED
from rules.obligations import expand, graced

log = structlog.get_logger()

_PLAIN = (
    update(obligations)
    .where(obligations.c.id == bindparam("oid"))
    .values(
        state=bindparam("state"),
        progress=bindparam("progress"),
        completed_at=case(
            (bindparam("done", Boolean), bindparam("at", DateTime(timezone=True))), else_=obligations.c.completed_at
        ),
        acknowledged_at=case(
            (
                bindparam("signed", Boolean),
                func.coalesce(obligations.c.acknowledged_at, bindparam("at", DateTime(timezone=True))),
            ),
            else_=obligations.c.acknowledged_at,
        ),
    )
)
"""A 签收, 进展 or 办结 without files: one statement for every such change of a batch (executemany),
compiled once, instead of an `UPDATE` of its own shape per change."""


def _plain(c: StateChange) -> bool:
    return c.event is None and not c.detail.get("evidence")


async def _write_plain(conn: AsyncConnection, changes: list[StateChange]) -> None:
    if changes:
        await conn.execute(
            _PLAIN,
            [
                {
                    "oid": c.obligation_id,
                    "state": c.state.value,
                    "progress": c.progress,
                    "done": c.state is ObligationState.completed,
                    "signed": c.state is not ObligationState.assigned,
                    "at": c.plan_time,
                }
                for c in changes
            ],
        )


async def _instruction_to_inboxes(
    conn: AsyncConnection,
    campaign_id: str,
    c: StateChange,
    push: Callable[[AsyncConnection, InboxItem], Awaitable[Any]],
) -> None:
    """The convener's 批示 in the inbox of each unit the workflow named (the obligation's unit and
    the office), and queued for their channels (e-mail, webhook, group robots), once per change and
    recipient: a retried mirror writes nothing twice, and pushes only what it wrote."""
    title = (await conn.execute(select(obligations.c.title).where(obligations.c.id == c.obligation_id))).scalar()
    for recipient in c.detail.get("to", []):
        item = InboxItem(
            key=f"{c.key}#to:{recipient}",
            campaign_id=campaign_id,
            recipient=recipient,
            kind="instruction",
            title=f"召集人批示：{title or c.obligation_id}",
            body=c.text,
            plan_time=c.plan_time,
            server_time=c.server_time,
            obligation_id=c.obligation_id,
            level=int(c.detail.get("level", 0)),
        )
        if await write_inbox(conn, item):
            await push(conn, item)


class Lifecycle(Base):
    @activity.defn(name=Act.register_campaign)
    async def register_campaign(self, inp: RegisterCampaign) -> int:
        ctx = inp.context
        specs = expand(inp.plan, ctx.campaign_id, grace_until=ctx.grace_until)
        async with self.db.begin() as conn:
            await conn.execute(
                insert(campaigns)
                .values(
                    id=ctx.campaign_id,
                    plan_id=ctx.plan_id,
                    plan_title=inp.plan.title,
                    plan_hash=ctx.plan_hash,
                    ruleset_id=ctx.ruleset.id,
                    ruleset_hash=ctx.ruleset_hash,
                    calendar_hash=ctx.calendar_hash,
                    offset_seconds=ctx.clock.offset_seconds,
                    plan=inp.plan.model_dump(mode="json"),
                    ruleset=ctx.ruleset.model_dump(mode="json"),
                    calendar=ctx.calendar.model_dump(mode="json"),
                    launched_plan_time=inp.plan_time,
                    launched_server_time=inp.server_time,
                    scorebook=inp.scorebook.model_dump(mode="json") if inp.scorebook else None,
                    scorebook_hash=inp.scorebook.digest() if inp.scorebook else None,
                    clock=ctx.clock.model_dump(mode="json"),
                )
                .on_conflict_do_nothing()
            )
            rows = [{**s.model_dump(exclude={"id"}), "id": s.id, "campaign_id": ctx.campaign_id} for s in specs]
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(obligations).on_conflict_do_nothing(), rows[i : i + 2000])
            await audit.record(
                conn,
                inp,
                key=f"{ctx.campaign_id}#launch",
                kind="campaign.launched",
                actor=ctx.office,
                payload={
                    "plan_id": ctx.plan_id,
                    "ruleset": f"{ctx.ruleset.id} v{ctx.ruleset.version}",
                    "calendar_hash": ctx.calendar_hash,
                    "offset_seconds": ctx.clock.offset_seconds,
                    "obligations": len(specs),
                    **({"scorebook_hash": inp.scorebook.digest()} if inp.scorebook else {}),
                    **self._grace(inp),
                },
            )
        log.info("campaign registered", campaign_id=ctx.campaign_id, obligations=len(specs))
        return len(specs)

    @staticmethod
    def _grace(inp: RegisterCampaign) -> dict[str, Any]:
        """On the launch's record: the due date the office set at launch, and for which obligations
        (by the date the plan gave them), so every moved deadline is accounted for."""
        ctx = inp.context
        if ctx.grace_until is None:
            return {}
        moved = graced(inp.plan, ctx.campaign_id, ctx.grace_until)
        return {
            "grace": {
                "due": ctx.grace_until.isoformat(),
                "working_days": ctx.ruleset.launch.grace_working_days,
                "set_by": ctx.office,
                "obligations": {d.isoformat(): ids for d, ids in sorted(moved.items())},
            }
        }

    @activity.defn(name=Act.load_obligations)
    async def load_obligations(self, inp: LoadObligations) -> list[Obligation]:
        q = (
            select(obligations)
            .where(
                obligations.c.campaign_id == inp.campaign_id,
                obligations.c.phase == inp.phase.value,
                obligations.c.unit_id == inp.unit_id,
                obligations.c.state != ObligationState.withdrawn.value,
            )
            .order_by(obligations.c.id)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        fields = set(ObligationSpec.model_fields)
        return [
            Obligation(
                spec=ObligationSpec.model_validate({k: v for k, v in r.items() if k in fields}),
                state=ObligationState(r["state"]),
                progress=r["progress"],
                acknowledged_at=r["acknowledged_at"],
                completed_at=r["completed_at"],
                reminders=r["reminders"],
                escalation_level=r["escalation_level"],
                extended_due=r["extended_due"],
                extensions=r["extensions"],
                evaluation=r["evaluation"],
                evidence=[e["sha256"] for e in r["evidence"]],
            )
            for r in rows
        ]

    @activity.defn(name=Act.mirror)
    async def mirror(self, inp: MirrorBatch) -> int:
        """Mirror obligation state changes (签收/进展/办结) into the read side and the audit chain.

        With gathering on (`deliver_batch_max` > 1), the mirrors arriving together share one
        transaction and one append to the chain, as deliveries do (`_mirror_together`); a shared
        transaction that fails leaves each to write alone, in its own, as before."""
        out = await self._mirror_gatherer.submit(inp) if self._mirror_gatherer is not None else None
        if out is None:
            async with self.db.begin() as conn:
                await audit.append(conn, inp.provenance, await self._mirror_rows(conn, inp))
            out = len(inp.changes)
        return out

    async def _mirror_together(self, batch: Sequence[MirrorBatch]) -> list[int | None]:
        """Several mirrors in one transaction: each one's row writes in turn, then every audit row
        in one append per campaign, last (the chain's head locked only for the append and the
        commit). A mirror sharing a change key with one in the batch (a retry) waits for the next
        batch (`Gatherer`'s keys). If anything fails, nothing of the batch is committed and each
        is told to write alone (None)."""

        async def write(conn: AsyncConnection, inp: MirrorBatch) -> Written[int]:
            return len(inp.changes), inp.provenance, await self._mirror_rows(conn, inp)

        return await in_one_transaction(self.db, batch, write, what="mirrors")

    @cached_property
    def _mirror_gatherer(self) -> Gatherer[MirrorBatch, int | None] | None:
        if self.gathering is None:
            return None
        return Gatherer(self._mirror_together, self.gathering, keys=lambda inp: (c.key for c in inp.changes))

    async def _mirror_rows(self, conn: AsyncConnection, inp: MirrorBatch) -> list[audit.Event]:
        """A mirror's read-side writes in the caller's transaction; its audit rows returned for the append."""
        plain: list[StateChange] = []
        for c in inp.changes:
            if _plain(c):
                plain.append(c)
                continue
            await _write_plain(conn, plain)  # in order: a later change to the same row comes after
            plain = []
            values: dict[str, Any] = {"state": c.state.value, "progress": c.progress}
            if c.state is ObligationState.completed:
                values["completed_at"] = c.plan_time
            elif c.event == "obligation.returned":
                values["completed_at"] = None
            if c.state is not ObligationState.assigned:
                values["acknowledged_at"] = func.coalesce(obligations.c.acknowledged_at, c.plan_time)
            if c.event == "extension.approved":
                values["extended_due"] = date.fromisoformat(c.detail["due"])
                values["extensions"] = obligations.c.extensions + 1
            if c.event in ("obligation.accepted", "obligation.returned"):
                values["evaluation"] = c.event.split(".", 1)[1]
            if c.detail.get("evidence"):
                values["evidence"] = obligations.c.evidence + c.detail["evidence"]
            await conn.execute(update(obligations).where(obligations.c.id == c.obligation_id).values(**values))
            if c.event == INSTRUCTED:
                await _instruction_to_inboxes(conn, inp.provenance.campaign_id, c, self._push)
        await _write_plain(conn, plain)
        return [
            audit.event(
                c,
                key=c.key,
                kind=c.event or f"obligation.{c.state.value}",
                actor=c.actor,
                obligation_id=c.obligation_id,
                unit_id=c.unit_id,
                payload={
                    "state": c.state.value,
                    "progress": c.progress,
                    "text": c.text,
                    **c.detail,
                    **audit.who(c.account, c.role),
                },
            )
            for c in inp.changes
        ]

    @activity.defn(name=Act.mirror_here)
    async def mirror_here(self, inp: MirrorBatch) -> MirroredHere:
        """`mirror` as a local activity, the batch returned beside its result for the record."""
        return MirroredHere(input=inp, result=await self.mirror(inp))

    @activity.defn(name=Act.close_campaign)
    async def close_campaign(self, inp: CloseCampaign) -> CampaignResult:
        prov = inp.provenance
        cid = prov.campaign_id
        async with self.db.begin() as conn:
            # The campaign row first, then the audit head: the order score entries take them in
            # (activities.store.scores), so the two never wait on each other.
            await conn.execute(select(campaigns.c.id).where(campaigns.c.id == cid).with_for_update(key_share=True))
            await audit.record(
                conn,
                inp,
                key=f"{cid}#closed",
                kind="campaign.closed",
                actor="office",
                payload={"cost": inp.cost.model_dump()},
            )
            counts = await campaign_counts(conn, cid)
            await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == cid)
                .values(
                    status="closed",
                    closed_plan_time=inp.plan_time,
                    summary={"counts": counts, "cost": inp.cost.model_dump()},
                )
            )
        return CampaignResult(campaign_id=cid, cost=inp.cost, counts=counts)

"""The campaign's side effects: register, deliver (催办/督办/督办通知), mirror, report, close.

Each method is one activity and one transaction. Everything written carries an idempotency
key that a unique constraint enforces, so a retried, replayed or re-run activity (a worker
killed after its commit and before it reported) writes nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.delivery import InboxItem, Outbox
from activities.rectification import monthly_orders, unresolved_orders
from activities.store import audit
from activities.store.tables import (
    assessments,
    audit_events,
    bulletins,
    campaigns,
    inbox,
    notice_counters,
    obligations,
    rectification_orders,
    supervision_notices,
)
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.payloads import (
    Act,
    AssessRun,
    CampaignResult,
    CloseCampaign,
    DeliverBatch,
    DeliverResult,
    FiredAction,
    LoadObligations,
    MirrorBatch,
    MonthlyResult,
    MonthlyRun,
    RecordRules,
    Refusal,
    RegisterCampaign,
)
from models.plan import UnitKind
from models.ruleset import ActionKind, Channel
from rules.obligations import expand

log = structlog.get_logger()

LOCAL_KINDS = [k.value for k in UnitKind if k.is_local]

INBOX_KIND = {
    ActionKind.remind: "reminder",
    ActionKind.escalate: "escalation",
    ActionKind.notice: "notice",
    ActionKind.rectify: "rectification",
    ActionKind.bulletin: "listing",
}
"""The inbox row an action writes."""
AUDIT_KIND = {**INBOX_KIND, ActionKind.rectify: "rectification_order", ActionKind.bulletin: "listed"}
"""The audit row it writes: a rule's rectification order reads like the monthly cycle's."""


# What a campaign's summary counts, in the order it is shown: the table and the rows it counts.
_COUNTED: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "obligations": (obligations, ()),
    "completed": (obligations, (obligations.c.state == ObligationState.completed.value,)),
    "reminders": (inbox, (inbox.c.kind == "reminder",)),
    "escalations": (inbox, (inbox.c.kind == "escalation",)),
    "notices": (supervision_notices, ()),
    "rectification_orders": (rectification_orders, ()),
    "bulletins": (bulletins, ()),
    "assessments": (assessments, ()),
    "audit_events": (audit_events, ()),
}
COUNTS = tuple(_COUNTED)


async def campaign_counts(conn: AsyncConnection, campaign_id: str) -> dict[str, int]:
    """The numbers a summary reports (COUNTS), straight from the read side."""
    out = {}
    for name, (table, where) in _COUNTED.items():
        q = select(func.count()).select_from(table).where(table.c.campaign_id == campaign_id, *where)
        out[name] = int((await conn.execute(q)).scalar_one())
    return out


def _on_time(row: Any, as_of: date) -> bool:
    done = row.completed_at
    return done is not None and done.date() <= min(row.due, as_of)


def rules_key(inp: RecordRules) -> str:
    return f"{inp.provenance.campaign_id}#rules#{inp.change.ruleset_hash}#{inp.change.since.isoformat()}"


class CampaignActivities:
    """Activities over one database, built by the worker with its engine injected; with an
    `outbox`, every inbox row is also pushed to its recipient's e-mail and webhook (queued in the
    same transaction, sent by the dispatch activity)."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox | None = None) -> None:
        self.db = engine
        self.outbox = outbox

    async def _push(self, conn: AsyncConnection, item: InboxItem) -> None:
        if self.outbox is not None:
            await self.outbox.push(conn, item)

    @activity.defn(name=Act.register_campaign)
    async def register_campaign(self, inp: RegisterCampaign) -> int:
        ctx, prov = inp.context, inp.provenance
        specs = expand(inp.plan, ctx.campaign_id)
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
                )
                .on_conflict_do_nothing()
            )
            rows = [{**s.model_dump(exclude={"id"}), "id": s.id, "campaign_id": ctx.campaign_id} for s in specs]
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(obligations).on_conflict_do_nothing(), rows[i : i + 2000])
            await audit.append(
                conn,
                prov,
                [
                    audit.Event(
                        key=f"{ctx.campaign_id}#launch",
                        kind="campaign.launched",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor=ctx.office,
                        payload={
                            "plan_id": ctx.plan_id,
                            "ruleset": f"{ctx.ruleset.id} v{ctx.ruleset.version}",
                            "calendar_hash": ctx.calendar_hash,
                            "offset_seconds": ctx.clock.offset_seconds,
                            "obligations": len(specs),
                        },
                    )
                ],
            )
        log.info("campaign registered", campaign_id=ctx.campaign_id, obligations=len(specs))
        return len(specs)

    @activity.defn(name=Act.load_obligations)
    async def load_obligations(self, inp: LoadObligations) -> list[Obligation]:
        q = (
            select(obligations)
            .where(
                obligations.c.campaign_id == inp.campaign_id,
                obligations.c.phase == inp.phase.value,
                obligations.c.unit_id == inp.unit_id,
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
            )
            for r in rows
        ]

    @activity.defn(name=Act.deliver)
    async def deliver(self, inp: DeliverBatch) -> DeliverResult:
        """Carry out the actions a unit workflow's rules fired at one instant, in one transaction:
        each writes its inbox row and audit row (and its notice or rectification order) once,
        guarded by its idempotency key, so a retried or replayed batch writes nothing twice."""
        prov = inp.provenance
        out = DeliverResult()
        events: list[audit.Event] = []
        async with self.db.begin() as conn:
            for a in inp.actions:
                bound = log.bind(campaign_id=prov.campaign_id, obligation_id=a.obligation_id, rule_id=a.rule_id)
                if a.kind is ActionKind.notice:
                    # The notice is the action: its number is taken once, under the action's own key.
                    if await self._already(conn, a.key):
                        out.already += 1
                        continue
                    code = await self._notice(conn, inp, a, key=a.key)
                    out.delivered += 1
                    out.notices.append(code)
                    events.append(self._notice_event(a, code, key=a.key))
                    bound.info("notice", code=code, plan_time=a.plan_time.isoformat())
                    continue
                kind = INBOX_KIND[a.kind]
                new = (
                    await conn.execute(
                        insert(inbox)
                        .values(
                            idempotency_key=a.key,
                            campaign_id=prov.campaign_id,
                            recipient=a.recipient,
                            kind=kind,
                            obligation_id=a.obligation_id,
                            rule_id=a.rule_id,
                            level=a.level,
                            title=a.title,
                            body=a.body,
                            plan_time=a.plan_time,
                            server_time=a.server_time,
                        )
                        .on_conflict_do_nothing()
                        .returning(inbox.c.id)
                    )
                ).scalar()
                if new is None:
                    out.already += 1
                    bound.info("already delivered", key=a.key)
                    continue
                out.delivered += 1
                bump: dict[str, Any] = {}
                if a.kind is ActionKind.remind:
                    bump = {"reminders": obligations.c.reminders + 1}
                elif a.kind is ActionKind.escalate:
                    bump = {"escalation_level": func.greatest(obligations.c.escalation_level, a.level)}
                elif a.kind is ActionKind.rectify:
                    assert a.rectify_due is not None
                    await conn.execute(
                        insert(rectification_orders).values(
                            idempotency_key=a.key,
                            campaign_id=prov.campaign_id,
                            unit_id=a.unit_id,
                            month=a.plan_time.date().replace(day=1),
                            overdue=int(a.facts.get("days_overdue", 0)),
                            due=a.rectify_due,
                            plan_time=a.plan_time,
                            server_time=a.server_time,
                        )
                    )
                if bump:
                    await conn.execute(update(obligations).where(obligations.c.id == a.obligation_id).values(**bump))
                payload: dict[str, Any] = {
                    "recipient": a.recipient,
                    "role": a.role.value,
                    "level": a.level,
                    "due": a.due.isoformat(),
                    "facts": a.facts,
                    "title": a.title,
                }
                if a.rectify_due is not None:
                    payload["rectify_due"] = a.rectify_due.isoformat()
                if a.channels != [Channel.inbox]:
                    payload["channels"] = [c.value for c in a.channels]
                events.append(
                    audit.Event(
                        key=a.key,
                        kind=AUDIT_KIND[a.kind],
                        plan_time=a.plan_time,
                        server_time=a.server_time,
                        actor=f"rule:{a.rule_id}",
                        obligation_id=a.obligation_id,
                        unit_id=a.unit_id,
                        rule_id=a.rule_id,
                        payload=payload,
                    )
                )
                bound.info(kind, recipient=a.recipient, plan_time=a.plan_time.isoformat())
                await self._push(
                    conn,
                    InboxItem(
                        key=a.key, campaign_id=prov.campaign_id, recipient=a.recipient, kind=kind, title=a.title,
                        body=a.body, plan_time=a.plan_time, server_time=a.server_time,
                        obligation_id=a.obligation_id, rule_id=a.rule_id, level=a.level,
                        channels=tuple(a.channels), quiet=inp.quiet_hours,
                    ),
                )  # fmt: skip
                if a.notice:
                    code = await self._notice(conn, inp, a, key=f"{a.key}#notice")
                    out.notices.append(code)
                    events.append(self._notice_event(a, code, key=f"{a.key}#notice"))
            await audit.append(conn, prov, events)
        return out

    @staticmethod
    async def _already(conn: AsyncConnection, key: str) -> bool:
        return (await conn.execute(select(inbox.c.id).where(inbox.c.idempotency_key == key))).first() is not None

    @staticmethod
    def _notice_event(a: FiredAction, code: str, *, key: str) -> audit.Event:
        return audit.Event(
            key=key,
            kind="notice",
            plan_time=a.plan_time,
            server_time=a.server_time,
            actor=f"rule:{a.rule_id}",
            obligation_id=a.obligation_id,
            unit_id=a.unit_id,
            rule_id=a.rule_id,
            payload={"code": code, "to": a.unit_id, "copy_to": a.recipient, "level": a.level},
        )

    async def _notice(self, conn: AsyncConnection, inp: DeliverBatch, a: FiredAction, *, key: str) -> str:
        """A numbered 督办通知. The counter moves in the same transaction as the notice, so a
        number is never skipped (a rolled-back attempt takes its number back) nor reused."""
        cid, year = inp.provenance.campaign_id, a.plan_time.year
        number = (
            await conn.execute(
                insert(notice_counters)
                .values(campaign_id=cid, year=year, last=1)
                .on_conflict_do_update(
                    index_elements=["campaign_id", "year"], set_={"last": notice_counters.c.last + 1}
                )
                .returning(notice_counters.c.last)
            )
        ).scalar_one()
        code = f"{inp.notice_prefix}〔{year}〕{number}号"
        body = f"{code}\n{a.body}\n请于收到本通知后5个工作日内书面报告整改落实情况。"
        title = f"督办通知 {code}：{a.title}"
        await conn.execute(
            insert(supervision_notices).values(
                idempotency_key=key,
                campaign_id=cid,
                year=year,
                number=number,
                code=code,
                unit_id=a.unit_id,
                copy_to=a.recipient,
                obligation_id=a.obligation_id,
                rule_id=a.rule_id,
                level=a.level,
                title=title,
                body=body,
                plan_time=a.plan_time,
                server_time=a.server_time,
            )
        )
        await conn.execute(
            insert(inbox).values(
                idempotency_key=key,
                campaign_id=cid,
                recipient=a.unit_id,
                kind="notice",
                obligation_id=a.obligation_id,
                rule_id=a.rule_id,
                level=a.level,
                title=title,
                body=body,
                plan_time=a.plan_time,
                server_time=a.server_time,
            )
        )
        await self._push(
            conn,
            InboxItem(
                key=key, campaign_id=cid, recipient=a.unit_id, kind="notice", title=title, body=body,
                plan_time=a.plan_time, server_time=a.server_time, obligation_id=a.obligation_id, rule_id=a.rule_id,
                level=a.level, channels=tuple(a.channels), quiet=inp.quiet_hours,
            ),
        )  # fmt: skip
        return code

    @activity.defn(name=Act.mirror)
    async def mirror(self, inp: MirrorBatch) -> int:
        """Mirror obligation state changes (签收/进展/办结) into the read side and the audit chain."""
        async with self.db.begin() as conn:
            for c in inp.changes:
                values: dict[str, Any] = {"state": c.state.value, "progress": c.progress}
                if c.state is ObligationState.completed:
                    values["completed_at"] = c.plan_time
                if c.state is not ObligationState.assigned:
                    values["acknowledged_at"] = func.coalesce(obligations.c.acknowledged_at, c.plan_time)
                await conn.execute(update(obligations).where(obligations.c.id == c.obligation_id).values(**values))
            await audit.append(
                conn,
                inp.provenance,
                [
                    audit.Event(
                        key=c.key,
                        kind=f"obligation.{c.state.value}",
                        plan_time=c.plan_time,
                        server_time=c.server_time,
                        actor=c.actor,
                        obligation_id=c.obligation_id,
                        unit_id=c.unit_id,
                        payload={"state": c.state.value, "progress": c.progress, "text": c.text},
                    )
                    for c in inp.changes
                ],
            )
        return len(inp.changes)

    @activity.defn(name=Act.record_refusal)
    async def record_refusal(self, inp: Refusal) -> None:
        """A refused attempt goes on the record, with who tried what and why it was refused."""
        async with self.db.begin() as conn:
            await audit.append(
                conn,
                inp.provenance,
                [
                    audit.Event(
                        key=inp.key,
                        kind="refused",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor=inp.actor,
                        obligation_id=inp.obligation_id if inp.known else None,
                        unit_id=inp.actor,
                        payload={
                            "verb": inp.verb,
                            "obligation_id": inp.obligation_id,
                            "reason": inp.reason,
                            "text": inp.text,
                        },
                    )
                ],
            )
        log.info("refused", campaign_id=inp.provenance.campaign_id, obligation_id=inp.obligation_id, reason=inp.reason)

    @activity.defn(name=Act.record_rules)
    async def record_rules(self, inp: RecordRules) -> None:
        """A rule set installed on a running campaign goes on the chain whole (its text is the
        record of which rules ran from when), with the hash it replaced and who installed it."""
        c = inp.change
        async with self.db.begin() as conn:
            await audit.append(
                conn,
                inp.provenance,
                [
                    audit.Event(
                        key=rules_key(inp),
                        kind="rules.installed",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor=inp.actor,
                        payload={
                            "ruleset_id": c.ruleset.id,
                            "version": c.ruleset.version,
                            "hash": c.ruleset_hash,
                            "previous_hash": inp.previous_hash,
                            "since": c.since.isoformat(),
                            "ruleset": c.ruleset.model_dump(mode="json"),
                        },
                    )
                ],
            )
        log.info("rules installed", campaign_id=inp.provenance.campaign_id, ruleset_hash=c.ruleset_hash)

    @activity.defn(name=Act.monthly_cycle)
    async def monthly_cycle(self, inp: MonthlyRun) -> MonthlyResult:
        """月度对账 (reconcile every obligation as of today) → 通报 (the month's bulletin) →
        责令整改 (an order for each unit with too many overdue obligations)."""
        prov = inp.provenance
        cid = prov.campaign_id
        as_of = inp.plan_time.date()
        async with self.db.begin() as conn:
            rows = (await conn.execute(select(obligations).where(obligations.c.campaign_id == cid))).all()
            per: dict[str, dict[str, Any]] = defaultdict(
                lambda: {"total": 0, "due": 0, "completed": 0, "on_time": 0, "late": 0, "overdue": 0}
            )
            for r in rows:
                s = per[r.unit_id]
                s["name"] = r.unit_name
                s["total"] += 1
                if r.state == ObligationState.completed.value:
                    s["completed"] += 1
                    s["on_time" if _on_time(r, r.due) else "late"] += 1
                if r.due < as_of:
                    s["due"] += 1
                    if r.state != ObligationState.completed.value:
                        s["overdue"] += 1
            for s in per.values():
                s["colour"] = (
                    "red"
                    if s["overdue"] >= inp.rectify_if_overdue_at_least
                    else ("yellow" if s["overdue"] else "green")
                )
                s["rate"] = round(s["completed"] / s["total"], 4) if s["total"] else 1.0
            ranking = sorted(per, key=lambda u: (-per[u]["rate"], per[u]["overdue"], u))
            laggards = [u for u in ranking if per[u]["colour"] == "red"]
            body = {
                "month": inp.month.isoformat(),
                "as_of": as_of.isoformat(),
                "units": {u: per[u] for u in ranking},
                "ranking": ranking,
                "laggards": laggards,
                "commended": [u for u in ranking[:3] if per[u]["overdue"] == 0],
                # 责令整改 not yet accepted, from earlier bulletins and rules (their rows' state).
                "unresolved_orders": await unresolved_orders(conn, cid, before=inp.plan_time),
            }
            new = (
                await conn.execute(
                    insert(bulletins)
                    .values(
                        campaign_id=cid,
                        month=inp.month,
                        body=body,
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                    )
                    .on_conflict_do_nothing()
                    .returning(bulletins.c.id)
                )
            ).scalar()
            if new is None:  # a retry after the commit: the same orders, read back
                return MonthlyResult(bulletin=False, orders=await monthly_orders(conn, cid, inp.month))
            events = [
                audit.Event(
                    key=f"{cid}#bulletin#{inp.month.isoformat()}",
                    kind="bulletin",
                    plan_time=inp.plan_time,
                    server_time=inp.server_time,
                    actor="office",
                    payload={"month": inp.month.isoformat(), "laggards": laggards, "units": len(per)},
                )
            ]
            for u in laggards:
                key = f"{cid}#rectify#{inp.month.isoformat()}#{u}"
                await conn.execute(
                    insert(rectification_orders).values(
                        idempotency_key=key,
                        campaign_id=cid,
                        unit_id=u,
                        month=inp.month,
                        overdue=per[u]["overdue"],
                        due=inp.rectification_due,
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                    )
                )
                order = InboxItem(
                    key=key,
                    campaign_id=cid,
                    recipient=u,
                    kind="rectification",
                    title=f"责令整改：{per[u]['name']}（{inp.month:%Y年%m月}通报）",
                    body=(
                        f"{per[u]['name']}截至{as_of:%Y年%m月%d日}有{per[u]['overdue']}项任务逾期未办结，"
                        f"现予通报，责令于{inp.rectification_due:%Y年%m月%d日}前整改到位并书面报告。"
                    ),
                    plan_time=inp.plan_time,
                    server_time=inp.server_time,
                )
                await conn.execute(
                    insert(inbox).values(
                        idempotency_key=key,
                        campaign_id=cid,
                        recipient=u,
                        kind=order.kind,
                        level=0,
                        title=order.title,
                        body=order.body,
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                    )
                )
                await self._push(conn, order)
                events.append(
                    audit.Event(
                        key=key,
                        kind="rectification_order",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor="office",
                        unit_id=u,
                        payload={"overdue": per[u]["overdue"], "due": inp.rectification_due.isoformat()},
                    )
                )
            await audit.append(conn, prov, events)
            orders = await monthly_orders(conn, cid, inp.month)
        log.info("monthly bulletin", campaign_id=cid, month=inp.month.isoformat(), laggards=len(laggards))
        return MonthlyResult(bulletin=True, rectification_orders=len(laggards), orders=orders)

    @activity.defn(name=Act.assess)
    async def assess(self, inp: AssessRun) -> int:
        """达标验收 at a milestone (every obligation of the milestone done on time) or 年度总评
        over the whole campaign (the share done on time; 60 to pass), per town in scope."""
        prov = inp.provenance
        cid = prov.campaign_id
        async with self.db.begin() as conn:
            q = select(obligations).where(obligations.c.campaign_id == cid, obligations.c.unit_kind.in_(LOCAL_KINDS))
            if inp.milestone:
                q = q.where(obligations.c.milestone == inp.milestone)
            per: dict[str, list[Any]] = defaultdict(list)
            for r in (await conn.execute(q)).all():
                per[r.unit_id].append(r)
            events = []
            written = 0
            for unit, rows in sorted(per.items()):
                on_time = sum(_on_time(r, inp.as_of) for r in rows)
                score = round(100 * on_time / len(rows), 1)
                passed = on_time == len(rows) if inp.milestone else score >= 60
                detail = {"obligations": len(rows), "on_time": on_time, "as_of": inp.as_of.isoformat()}
                new = (
                    await conn.execute(
                        insert(assessments)
                        .values(
                            campaign_id=cid,
                            kind=inp.kind,
                            milestone=inp.milestone or "",
                            unit_id=unit,
                            score=score,
                            passed=passed,
                            detail=detail,
                            plan_time=inp.plan_time,
                            server_time=inp.server_time,
                        )
                        .on_conflict_do_nothing()
                        .returning(assessments.c.id)
                    )
                ).scalar()
                if new is None:
                    continue
                written += 1
                events.append(
                    audit.Event(
                        key=f"{cid}#assess#{inp.kind}#{inp.milestone or ''}#{unit}",
                        kind="assessment",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor="office",
                        unit_id=unit,
                        payload={
                            "kind": inp.kind,
                            "milestone": inp.milestone,
                            "score": score,
                            "passed": passed,
                            **detail,
                        },
                    )
                )
            await audit.append(conn, prov, events)
        return written

    @activity.defn(name=Act.close_campaign)
    async def close_campaign(self, inp: CloseCampaign) -> CampaignResult:
        prov = inp.provenance
        cid = prov.campaign_id
        async with self.db.begin() as conn:
            await audit.append(
                conn,
                prov,
                [
                    audit.Event(
                        key=f"{cid}#closed",
                        kind="campaign.closed",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor="office",
                        payload={"cost": inp.cost.model_dump()},
                    )
                ],
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

"""The campaign's side effects: register, deliver (催办/督办/督办通知), mirror, report, close.

Each method is one activity and one transaction. Everything written carries an idempotency
key that a unique constraint enforces, so a retried, replayed or re-run activity (a worker
killed after its commit and before it reported) writes nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities import paperwork
from activities.delivery import InboxItem, Outbox, write_inbox
from activities.documents import RenderedSet, render_bulletin, render_ledger_xlsx, render_notice
from activities.rectification import monthly_orders, unresolved_orders
from activities.store import audit, documents
from activities.store.tables import (
    assessment_scores,
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
from models.delivery import Attachment
from models.documents import SupervisionNotice
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.payloads import (
    Act,
    CampaignResult,
    CloseCampaign,
    DeliverBatch,
    DeliverResult,
    FiredAction,
    LoadObligations,
    MirrorBatch,
    MonthlyResult,
    MonthlyRun,
    RecordAmendment,
    RecordRules,
    Refusal,
    RegisterCampaign,
)
from models.plan import UnitKind
from models.ruleset import ActionKind, Channel
from models.time import CST
from rules.obligations import expand
from rules.reconcile import reconcile

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
    "scores": (assessment_scores, ()),
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


def amendment_key(inp: RecordAmendment) -> str:
    return f"{inp.provenance.campaign_id}#amend#{inp.plan.digest()}#{inp.plan_time.isoformat()}"


@dataclass(frozen=True)
class IssuedNotice:
    """A 督办通知 written by `_notice`: its number and what its audit row records beyond the action."""

    code: str
    record: dict[str, Any] = field(default_factory=dict)


def attachments(files: RenderedSet, *formats: str) -> list[Attachment]:
    return [
        Attachment(filename=files[f].name, content=files[f].data, content_type=files[f].media_type) for f in formats
    ]


class CampaignActivities:
    """Activities over one database, built by the worker with its engine injected; with an
    `outbox`, every inbox row is also pushed to its recipient's e-mail and webhook (queued in the
    same transaction, sent by the dispatch activity)."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox | None = None) -> None:
        self.db = engine
        self.outbox = outbox
        self.papers = paperwork.CampaignPapers()

    async def _push(self, conn: AsyncConnection, item: InboxItem, files: Sequence[Attachment] = ()) -> None:
        if self.outbox is not None:
            await self.outbox.push(conn, item, files)

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
                    scorebook=inp.scorebook.model_dump(mode="json") if inp.scorebook else None,
                    scorebook_hash=inp.scorebook.digest() if inp.scorebook else None,
                    clock=ctx.clock.model_dump(mode="json"),
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
                            **({"scorebook_hash": inp.scorebook.digest()} if inp.scorebook else {}),
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
                    notice = await self._notice(conn, inp, a, key=a.key)
                    out.delivered += 1
                    out.notices.append(notice.code)
                    events.append(self._notice_event(a, notice, key=a.key))
                    bound.info("notice", code=notice.code, plan_time=a.plan_time.isoformat())
                    continue
                kind = INBOX_KIND[a.kind]
                item = InboxItem(
                    key=a.key, campaign_id=prov.campaign_id, recipient=a.recipient, kind=kind, title=a.title,
                    body=a.body, plan_time=a.plan_time, server_time=a.server_time,
                    obligation_id=a.obligation_id, rule_id=a.rule_id, level=a.level,
                    channels=tuple(a.channels), quiet=inp.quiet_hours,
                )  # fmt: skip
                if not await write_inbox(conn, item):
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
                payload = a.audit_payload()
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
                await self._push(conn, item)
                if a.notice:
                    notice = await self._notice(conn, inp, a, key=f"{a.key}#notice")
                    out.notices.append(notice.code)
                    events.append(self._notice_event(a, notice, key=f"{a.key}#notice"))
            await audit.append(conn, prov, events)
        # Papers after the numbers: rendering holds no lock, so one unit's notices do not queue
        # behind another's. Keys of notices already numbered (by this attempt or an earlier one
        # that died before its papers) are done here, from the document input on the chain.
        keys = [a.key for a in inp.actions if a.kind is ActionKind.notice]
        keys += [f"{a.key}#notice" for a in inp.actions if a.notice and a.kind is ActionKind.escalate]
        for key in keys:
            await self._papers(inp, key)
        return out

    async def _papers(self, inp: DeliverBatch, key: str) -> None:
        """Render a numbered notice (DOCX + PDF) from the document input its audit row holds,
        store the files and push its e-mail with them attached: once, whatever the retries."""
        cid = inp.provenance.campaign_id
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    select(audit_events.c.payload).where(
                        audit_events.c.campaign_id == cid, audit_events.c.event_key == key
                    )
                )
            ).first()
            notice = (
                (await conn.execute(select(supervision_notices).where(supervision_notices.c.idempotency_key == key)))
                .mappings()
                .first()
            )
            if row is None or notice is None:
                return
            stored = await documents.exists(conn, cid, "notice", notice["code"])
        record = json.loads(row.payload)
        if stored or "document" not in record:
            return
        doc = SupervisionNotice.model_validate(record["document"])
        began = time.perf_counter()
        # CPU-bound (about 0.1 s): off the event loop, so the worker's heartbeats go on meanwhile.
        files = await asyncio.to_thread(render_notice, doc)
        async with self.db.begin() as conn:
            await documents.store(
                conn, campaign_id=cid, kind="notice", ref=notice["code"], files=dict(files),
                plan_time=notice["plan_time"], server_time=notice["server_time"],
            )  # fmt: skip
            await self._push(
                conn,
                InboxItem(
                    key=key, campaign_id=cid, recipient=notice["unit_id"], kind="notice", title=notice["title"],
                    body=notice["body"], plan_time=notice["plan_time"], server_time=notice["server_time"],
                    obligation_id=notice["obligation_id"], rule_id=notice["rule_id"], level=notice["level"],
                    channels=tuple(record.get("channels", ["inbox"])), quiet=inp.quiet_hours,
                ),
                attachments(files, "pdf", "docx"),
            )  # fmt: skip
        ms = round(1000 * (time.perf_counter() - began))
        log.info("notice rendered", campaign_id=cid, code=notice["code"], ms=ms)

    @staticmethod
    async def _already(conn: AsyncConnection, key: str) -> bool:
        return (await conn.execute(select(inbox.c.id).where(inbox.c.idempotency_key == key))).first() is not None

    @staticmethod
    def _notice_event(a: FiredAction, notice: IssuedNotice, *, key: str) -> audit.Event:
        return audit.Event(
            key=key,
            kind="notice",
            plan_time=a.plan_time,
            server_time=a.server_time,
            actor=f"rule:{a.rule_id}",
            obligation_id=a.obligation_id,
            unit_id=a.unit_id,
            rule_id=a.rule_id,
            payload={"code": notice.code, "to": a.unit_id, "level": a.level, **notice.record},
        )

    async def _notice(self, conn: AsyncConnection, inp: DeliverBatch, a: FiredAction, *, key: str) -> IssuedNotice:
        """A numbered 督办通知: its row, its inbox row, and the record of its audit row (with the
        document's whole input); its DOCX + PDF come after the commit (`_papers`).

        The counter moves in the same transaction as the notice, so a number is never skipped (a
        rolled-back attempt takes its number back) nor reused. Its row stays locked until the
        transaction commits, so everything but the number is read first (`draft_notice`) and
        only the writes happen after it is taken."""
        cid, year = inp.provenance.campaign_id, a.plan_time.year
        facts = await self.papers.facts(conn, cid)
        thresholds = await self.papers.severity(conn, cid, inp.provenance.ruleset_hash)
        draft = await paperwork.draft_notice(conn, facts, a, thresholds=thresholds)
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
        document = draft.document(cid, code)
        body = (
            f"{code}（{draft.severity.label}）\n{a.body}\n"
            f"请于收到本通知后{paperwork.REPLY_WORKING_DAYS}个工作日内书面报告整改落实情况。"
        )
        title = f"督办通知 {code}：{a.title}"
        await conn.execute(
            insert(supervision_notices).values(
                idempotency_key=key,
                campaign_id=cid,
                year=year,
                number=number,
                code=code,
                unit_id=a.unit_id,
                copy_to=draft.copy_ids[0] if draft.copy_ids else None,
                obligation_id=a.obligation_id,
                rule_id=a.rule_id,
                level=a.level,
                title=title,
                body=body,
                plan_time=a.plan_time,
                server_time=a.server_time,
                severity=draft.severity.value,
            )
        )
        await write_inbox(
            conn,
            InboxItem(
                key=key, campaign_id=cid, recipient=a.unit_id, kind="notice", title=title, body=body,
                plan_time=a.plan_time, server_time=a.server_time, obligation_id=a.obligation_id, rule_id=a.rule_id,
                level=a.level,
            ),
        )  # fmt: skip
        return IssuedNotice(
            code=code,
            record={
                "copy_to": list(draft.copy_ids),
                "escalated_to": a.recipient,
                "severity": draft.severity.value,
                "days_overdue": draft.days_overdue,
                "prior_notices": draft.prior_notices,
                "escalation_level": draft.escalation_level,
                "overdue": [i.obligation_id for i in draft.items],
                "reply_by": draft.reply_by.isoformat(),
                # The document's whole input: the papers are rendered from it after the number's
                # transaction, and anyone can render it again and compare the stored files' hashes.
                "document": document.model_dump(mode="json"),
                "channels": [c.value for c in a.channels],
            },
        )

    @activity.defn(name=Act.mirror)
    async def mirror(self, inp: MirrorBatch) -> int:
        """Mirror obligation state changes (签收/进展/办结) into the read side and the audit chain."""
        async with self.db.begin() as conn:
            for c in inp.changes:
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
            await audit.append(
                conn,
                inp.provenance,
                [
                    audit.Event(
                        key=c.key,
                        kind=c.event or f"obligation.{c.state.value}",
                        plan_time=c.plan_time,
                        server_time=c.server_time,
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
                            **audit.who(inp.account, inp.role),
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
                            **audit.who(inp.account, None),
                        },
                    )
                ],
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
            await audit.append(
                conn,
                inp.provenance,
                [
                    audit.Event(
                        key=amendment_key(inp),
                        kind="plan.amended",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
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
                ],
            )
        log.info("plan amended", campaign_id=cid, **inp.diff.counts())

    @activity.defn(name=Act.monthly_cycle)
    async def monthly_cycle(self, inp: MonthlyRun) -> MonthlyResult:
        """月度对账 (reconcile every obligation as of today) → 通报 (the month's bulletin: its JSON
        body, DOCX + PDF and the 台账 workbook, all stored) → 责令整改 (an order for each unit with
        too many overdue obligations), in one transaction."""
        prov = inp.provenance
        cid = prov.campaign_id
        as_of = inp.plan_time.astimezone(CST).date()
        month = inp.month.isoformat()
        async with self.db.begin() as conn:
            done = await conn.scalar(
                select(bulletins.c.id).where(bulletins.c.campaign_id == cid, bulletins.c.month == inp.month)
            )
            if done is not None:  # a retry after the commit: the same orders, read back
                return MonthlyResult(bulletin=False, orders=await monthly_orders(conn, cid, inp.month))
            facts = await self.papers.facts(conn, cid)
            recs = await paperwork.records(conn, cid)
            rec = reconcile(recs, as_of, facts.calendar, red_at=inp.rectify_if_overdue_at_least)
            per = {u.unit_id: u for u in rec.units}
            laggards = list(rec.laggards)
            events = []
            for u in laggards:
                key = f"{cid}#rectify#{month}#{u}"
                await conn.execute(
                    insert(rectification_orders).values(
                        idempotency_key=key,
                        campaign_id=cid,
                        unit_id=u,
                        month=inp.month,
                        overdue=per[u].overdue,
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
                    title=f"责令整改：{per[u].unit_name}（{inp.month:%Y年%m月}通报）",
                    body=(
                        f"{per[u].unit_name}截至{as_of:%Y年%m月%d日}有{per[u].overdue}项任务逾期未办结，"
                        f"现予通报，责令于{inp.rectification_due:%Y年%m月%d日}前整改到位并书面报告。"
                    ),
                    plan_time=inp.plan_time,
                    server_time=inp.server_time,
                )
                await write_inbox(conn, order)
                await self._push(conn, order)
                events.append(
                    audit.Event(
                        key=key,
                        kind="rectification_order",
                        plan_time=inp.plan_time,
                        server_time=inp.server_time,
                        actor="office",
                        unit_id=u,
                        payload={"overdue": per[u].overdue, "due": inp.rectification_due.isoformat()},
                    )
                )
            orders = await paperwork.orders_for(conn, facts, inp.month)
            doc = paperwork.bulletin_document(facts, rec, orders, month=inp.month, issued=as_of)
            ledger = paperwork.ledger_document(facts, recs, rec)
            began = time.perf_counter()
            files = await asyncio.to_thread(render_bulletin, doc)
            sheet = await asyncio.to_thread(render_ledger_xlsx, ledger)
            rendered_ms = round(1000 * (time.perf_counter() - began))
            stamp = {"plan_time": inp.plan_time, "server_time": inp.server_time}
            hashes = {
                "bulletin": await documents.store(
                    conn, campaign_id=cid, kind="bulletin", ref=inp.month.strftime("%Y-%m"), files=dict(files), **stamp
                ),
                "ledger": await documents.store(
                    conn, campaign_id=cid, kind="ledger", ref=inp.month.strftime("%Y-%m"), files={"xlsx": sheet},
                    **stamp,
                ),
            }  # fmt: skip
            body = paperwork.bulletin_body(rec, orders, month=inp.month, doc=doc, hashes=hashes)
            # The rectification workflows' own view of what is still open, by workflow id.
            body["unresolved_orders"] = await unresolved_orders(conn, cid, before=inp.plan_time)
            await conn.execute(
                insert(bulletins).values(
                    campaign_id=cid, month=inp.month, body=body, plan_time=inp.plan_time, server_time=inp.server_time
                )
            )
            events.insert(
                0,
                audit.Event(
                    key=f"{cid}#bulletin#{month}",
                    kind="bulletin",
                    plan_time=inp.plan_time,
                    server_time=inp.server_time,
                    actor="office",
                    payload={
                        "month": month,
                        "laggards": laggards,
                        "units": len(per),
                        "commended": list(rec.commended),
                        "totals": rec.totals.model_dump(),
                        "documents": hashes,
                    },
                ),
            )
            await audit.append(conn, prov, events)
            issued = await monthly_orders(conn, cid, inp.month)
        log.info("monthly bulletin", campaign_id=cid, month=month, laggards=len(laggards), rendered_ms=rendered_ms)
        return MonthlyResult(bulletin=True, rectification_orders=len(laggards), orders=issued)

    @activity.defn(name=Act.close_campaign)
    async def close_campaign(self, inp: CloseCampaign) -> CampaignResult:
        prov = inp.provenance
        cid = prov.campaign_id
        async with self.db.begin() as conn:
            # The campaign row first, then the audit head: the order score entries take them in
            # (activities.store.scores), so the two never wait on each other.
            await conn.execute(select(campaigns.c.id).where(campaigns.c.id == cid).with_for_update(key_share=True))
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

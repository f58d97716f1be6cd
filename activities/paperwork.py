"""The office's papers from the read side: 督办通知, the monthly 通报 and its 台账.

`CampaignActivities` calls these inside its own transactions: a notice's draft is read before
its number is taken (so the counter row stays locked only while the document is rendered and
stored), and the monthly cycle's reconciliation is `rules.reconcile` over the obligations table.
The CLI reads stored papers back through the functions at the end, checking every file against
the SHA-256 recorded when it was issued.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents.bulletin import title
from activities.documents.layout import cn_date
from activities.store.audit import payload_of
from activities.store.tables import audit_events, bulletins, campaigns, documents, inbox, obligations
from activities.store.tables import rectification_orders as orders_t
from activities.store.tables import supervision_notices as notices_t
from models.calendar import CalendarData
from models.documents import (
    Bulletin,
    Ledger,
    LedgerRow,
    OrderState,
    OverdueItem,
    RectificationEntry,
    Severity,
    SupervisionNotice,
    UnitRow,
    bulletin_code,
    first_bulletin_month,
)
from models.obligation import ObligationState
from models.payloads import FiredAction
from models.plan import Plan, UnitKind
from models.reconciliation import ObligationRecord, Reconciliation
from models.ruleset import NoticeSeverity, RuleSet
from models.time import CST
from rules.calendar import WorkCalendar
from rules.severity import severity as severity_of

log = structlog.get_logger()

REPLY_WORKING_DAYS = 5
"""A notice asks for a written report within this many working days (its body has always said so)."""
RESOLVED_ORDER_STATES = frozenset({"resolved", "accepted"})
"""States of a 责令整改 order that close it; any other state is still open."""


# -- what a campaign's papers need from its row ----------------------------------------------------


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
        self._severity: dict[tuple[str, str], NoticeSeverity] = {}

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
        key = (campaign_id, ruleset_hash)
        if key not in self._severity:
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
            self._severity[key] = found.severity
        return self._severity[key]


# -- 督办通知 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeDraft:
    """Everything a notice says but its number, read before the number is taken."""

    unit_id: str
    addressee: str
    title: str
    issuer: str
    copy_ids: tuple[str, ...]
    copy_names: tuple[str, ...]
    severity: Severity
    items: tuple[OverdueItem, ...]
    body: tuple[str, ...]
    reply_by: date
    issued: date
    days_overdue: int
    prior_notices: int
    escalation_level: int

    def document(self, campaign_id: str, code: str) -> SupervisionNotice:
        return SupervisionNotice(
            campaign_id=campaign_id,
            code=code,
            title=self.title,
            issuer=self.issuer,
            addressee=self.addressee,
            copy_to=self.copy_names,
            severity=self.severity,
            items=self.items,
            body=self.body,
            reply_by=self.reply_by,
            issued=self.issued,
        )


SEVERITY_ASK = {
    Severity.blue: "现予蓝色督办，请你单位抓紧办理，按期办结。",
    Severity.yellow: "现予黄色督办，请你单位主要负责同志亲自过问，明确专人负责，限期办结。",
    Severity.red: "现予红色督办，请你单位高度重视，主要负责同志亲自督办，倒排工期，确保整改到位；"
    "逾期仍未办结的，将按程序提请约谈问责。",
}


async def draft_notice(
    conn: AsyncConnection, facts: CampaignFacts, a: FiredAction, *, thresholds: NoticeSeverity
) -> NoticeDraft:
    """The notice an action issues: to its unit, listing every obligation of the unit not completed
    and due before the notice date (this one first), copied to their lead units (and the
    escalation's target, when it is neither the unit nor the issuing office)."""
    cid = facts.campaign_id
    on = a.plan_time.astimezone(CST).date()
    cal = facts.calendar
    overdue = (
        await conn.execute(
            select(obligations)
            .where(
                obligations.c.campaign_id == cid,
                obligations.c.unit_id == a.unit_id,
                obligations.c.state.not_in([ObligationState.completed.value, ObligationState.withdrawn.value]),
                obligations.c.due < on,
            )
            .order_by(obligations.c.due, obligations.c.id)
        )
    ).all()
    rows = [r for r in overdue if r.id == a.obligation_id] + [r for r in overdue if r.id != a.obligation_id]
    own = rows[0] if rows and rows[0].id == a.obligation_id else None
    if own is None:
        # A notice rule may fire before the due date, or the mirror may not have caught up: the
        # notice still lists the obligation it is about.
        own = (await conn.execute(select(obligations).where(obligations.c.id == a.obligation_id))).one()
        rows.insert(0, own)
    ids = [r.id for r in rows]
    escalations: dict[str, int] = dict(
        (
            await conn.execute(
                select(inbox.c.obligation_id, func.count())
                .where(inbox.c.campaign_id == cid, inbox.c.kind == "escalation", inbox.c.obligation_id.in_(ids))
                .group_by(inbox.c.obligation_id)
            )
        ).all()
    )
    prior = int(
        (
            await conn.execute(
                select(func.count()).where(
                    notices_t.c.campaign_id == cid,
                    notices_t.c.unit_id == a.unit_id,
                    notices_t.c.obligation_id == a.obligation_id,
                )
            )
        ).scalar_one()
    )
    days_overdue = int(a.facts.get("days_overdue", 0))
    level = max(own.escalation_level, a.level)
    colour = severity_of(thresholds, days_overdue=days_overdue, prior_notices=prior, escalation_level=level)
    items = tuple(
        OverdueItem(
            obligation_id=r.id,
            title=r.title,
            due=r.due,
            # The engine's count for the notice's own obligation (it moved a due date off a rest
            # day); the others' from the table's due date.
            overdue_working_days=(
                days_overdue if r is own and days_overdue else max(1, cal.working_days_between(r.due, on))
            ),
            state=ObligationState(r.state),
            progress=r.progress,
            escalations=int(escalations.get(r.id, 0)),
        )
        for r in rows
    )
    office = facts.plan.joint_meeting.office
    copies: list[str] = []
    for u in (*(r.lead for r in rows), a.recipient):
        if u not in (a.unit_id, office) and u not in copies:
            copies.append(u)
    if not copies:  # a notice always has a 抄送: the office's standing one, the joint meeting's convener
        copies.append(facts.plan.joint_meeting.convener)
    addressee = facts.name(a.unit_id)
    first = items[0]
    late = f"现已逾期{first.overdue_working_days}个工作日" if first.due < on else f"将于{cn_date(first.due)}到期"
    own_text = f"“{first.title}”应于{cn_date(first.due)}前完成，{late}，已督办{first.escalations}次，仍未办结"
    opening = f"根据《{facts.plan.title}》和督办工作要求，经核查，截至{cn_date(on)}，你单位承担的"
    if len(items) == 1:
        opening += f"{own_text}（见下表）。"
    else:
        opening += f"{len(items)}项任务已超过完成时限仍未办结（见下表）。其中{own_text}。"
    body = (opening, SEVERITY_ASK[colour])
    return NoticeDraft(
        unit_id=a.unit_id,
        addressee=addressee,
        title=f"关于督促办理{addressee}逾期任务的通知",
        issuer=facts.issuer,
        copy_ids=tuple(copies),
        copy_names=tuple(facts.name(u) for u in copies),
        severity=colour,
        items=items,
        body=body,
        reply_by=cal.shift(on, REPLY_WORKING_DAYS),
        issued=on,
        days_overdue=days_overdue,
        prior_notices=prior,
        escalation_level=level,
    )


# -- 月度对账, 通报, 台账 -----------------------------------------------------------------------------


def _record(r: Any) -> ObligationRecord:
    return ObligationRecord(
        id=r.id,
        unit_id=r.unit_id,
        unit_name=r.unit_name,
        unit_kind=UnitKind(r.unit_kind),
        title=r.title,
        task_no=r.task_no,
        lead=r.lead,
        assigned=r.assigned,
        due=r.due,
        state=ObligationState(r.state),
        progress=r.progress,
        completed_on=r.completed_at.astimezone(CST).date() if r.completed_at is not None else None,
        reminders=r.reminders,
        escalation_level=r.escalation_level,
    )


async def records(conn: AsyncConnection, campaign_id: str) -> list[ObligationRecord]:
    """Every obligation of the campaign as the table has it now, in id order (not those a plan
    amendment withdrew: they are owed by no one)."""
    q = (
        select(obligations)
        .where(obligations.c.campaign_id == campaign_id, obligations.c.state != ObligationState.withdrawn.value)
        .order_by(obligations.c.id)
    )
    return [_record(r) for r in (await conn.execute(q)).all()]


@dataclass(frozen=True)
class Orders:
    issued: list[dict[str, Any]]
    """Orders of the bulletin month (the cycle's own and any a rule fired that month)."""
    unresolved: list[dict[str, Any]]
    """Orders from earlier months whose state is not resolved or accepted."""


async def orders_for(conn: AsyncConnection, facts: CampaignFacts, month: date) -> Orders:
    q = (
        select(orders_t)
        .where(orders_t.c.campaign_id == facts.campaign_id, orders_t.c.month <= month)
        .order_by(orders_t.c.month, orders_t.c.unit_id, orders_t.c.id)
    )
    issued, unresolved = [], []
    for r in (await conn.execute(q)).all():
        entry = {
            "unit_id": r.unit_id,
            "unit_name": facts.name(r.unit_id),
            "month": r.month.isoformat(),
            "overdue": r.overdue,
            "due": r.due.isoformat(),
            "state": r.state,
        }
        if r.month == month:
            issued.append(entry)
        elif r.state not in RESOLVED_ORDER_STATES:
            unresolved.append(entry)
    return Orders(issued=issued, unresolved=unresolved)


def _entry(o: dict[str, Any]) -> RectificationEntry:
    return RectificationEntry(
        unit_name=o["unit_name"],
        month=date.fromisoformat(o["month"]),
        overdue=o["overdue"],
        due=date.fromisoformat(o["due"]),
        state=OrderState.resolved if o["state"] in RESOLVED_ORDER_STATES else OrderState(o["state"]),
    )


def bulletin_document(
    facts: CampaignFacts, rec: Reconciliation, orders: Orders, *, month: date, issued: date
) -> Bulletin:
    names = {t.unit_id: t.unit_name for t in rec.units}
    t = rec.totals
    started = [u for u in rec.units if u.expected_progress or u.actual_progress]
    opening = [
        f"按照《{facts.plan.title}》月度对账要求，{facts.issuer}对截至{cn_date(rec.as_of)}各责任单位任务推进情况"
        f"进行了对账，已到期任务{t.due}项。"
    ]
    if started:
        expected = round(sum(u.expected_progress for u in started) / len(started), 1)
        actual = round(sum(u.actual_progress for u in started) / len(started), 1)
        behind = [u.unit_name for u in rec.units if u.behind]
        lag = f"，{'、'.join(behind)}进度滞后于序时进度" if behind else ""
        opening.append(f"按序时进度各单位平均应完成{expected:.1f}%，实际平均进度{actual:.1f}%{lag}。")
    convener = facts.plan.joint_meeting.convener
    return Bulletin(
        campaign_id=facts.campaign_id,
        campaign_title=facts.campaign_title,
        issuer=facts.issuer,
        code=bulletin_code(facts.plan.notice_prefix, first_month=first_bulletin_month(facts.plan), month=month),
        month=month,
        as_of=rec.as_of,
        issued=issued,
        rows=tuple(
            UnitRow(
                unit_id=u.unit_id,
                unit_name=u.unit_name,
                kind=u.kind,
                total=u.total,
                done=u.done,
                on_time=u.on_time,
                late=u.late,
                overdue=u.overdue,
                colour=u.colour,
                expected_progress=u.expected_progress,
                actual_progress=u.actual_progress,
                rank=u.rank,
            )
            for u in rec.units
        ),
        commended=tuple(names[u] for u in rec.commended),
        criticised=tuple(names[u] for u in rec.laggards),
        orders_issued=tuple(_entry(o) for o in orders.issued),
        orders_unresolved=tuple(_entry(o) for o in orders.unresolved),
        body=tuple(opening),
        copy_to=(facts.name(convener),),
    )


def ledger_document(facts: CampaignFacts, recs: Sequence[ObligationRecord], rec: Reconciliation) -> Ledger:
    return Ledger(
        campaign_id=facts.campaign_id,
        campaign_title=facts.campaign_title,
        as_of=rec.as_of,
        issuer=facts.issuer,
        rows=tuple(
            LedgerRow(
                obligation_id=r.id,
                unit_name=r.unit_name,
                task_no=r.task_no,
                title=r.title,
                lead=facts.name(r.lead),
                due=r.due,
                state=r.state,
                progress=r.progress,
                reminders=r.reminders,
                escalation_level=r.escalation_level,
                overdue_working_days=c.overdue_working_days,
                colour=c.colour,
            )
            for r, c in zip(recs, rec.obligations, strict=True)
        ),
    )


def bulletin_body(
    rec: Reconciliation, orders: Orders, *, month: date, doc: Bulletin, hashes: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """The bulletin's JSON body: the keys it has always had, then the reconciliation's detail."""
    units = {
        u.unit_id: {
            "name": u.unit_name,
            "total": u.total,
            "due": u.due,
            "completed": u.done,
            "on_time": u.on_time,
            "late": u.late,
            "overdue": u.overdue,
            "colour": u.colour.value,
            "rate": u.rate,
            "kind": u.kind.value,
            "expected_progress": u.expected_progress,
            "actual_progress": u.actual_progress,
            "behind": u.behind,
            "rank": u.rank,
        }
        for u in rec.units
    }
    return {
        "month": month.isoformat(),
        "as_of": rec.as_of.isoformat(),
        "units": units,
        "ranking": [u.unit_id for u in rec.units],
        "laggards": list(rec.laggards),
        "commended": list(rec.commended),
        "title": title(doc),
        "issuer": doc.issuer,
        "totals": rec.totals.model_dump(),
        "towns": rec.towns.model_dump(),
        "agencies": rec.agencies.model_dump(),
        "criticised": list(doc.criticised),
        "orders_issued": orders.issued,
        "orders_unresolved": orders.unresolved,
        "documents": hashes,
    }


# -- reading papers back (the CLI) -----------------------------------------------------------------


class PaperNotFound(Exception):
    """No such campaign, notice, bulletin or stored file: the user's input names nothing."""


class ChecksumMismatch(Exception):
    """A stored file whose bytes do not hash to what was recorded when it was issued."""


@dataclass(frozen=True)
class StoredFile:
    format: str
    filename: str
    sha256: str
    content: bytes


async def require_campaign(conn: AsyncConnection, campaign_id: str) -> None:
    if (await conn.scalar(select(campaigns.c.id).where(campaigns.c.id == campaign_id))) is None:
        raise PaperNotFound(f"no campaign {campaign_id!r}")


async def stored_files(
    conn: AsyncConnection, campaign_id: str, kind: str, ref: str, recorded: dict[str, str]
) -> dict[str, StoredFile]:
    """A document's stored files by format, each checked: its bytes hash to the row's SHA-256,
    which is the one recorded with the notice or bulletin (`recorded`, by format)."""
    q = (
        select(documents.c.format, documents.c.filename, documents.c.sha256, documents.c.content)
        .where(documents.c.campaign_id == campaign_id, documents.c.kind == kind, documents.c.ref == ref)
        .order_by(documents.c.format)
    )
    out = {}
    for r in (await conn.execute(q)).all():
        actual = hashlib.sha256(r.content).hexdigest()
        expected = recorded.get(r.format, r.sha256)
        if actual != r.sha256 or actual != expected:
            raise ChecksumMismatch(
                f"{r.filename}: stored bytes hash to {actual}, but {expected} was recorded when it was issued"
            )
        out[r.format] = StoredFile(r.format, r.filename, r.sha256, bytes(r.content))
    return out


async def notices_of(conn: AsyncConnection, campaign_id: str, unit: str | None = None) -> list[dict[str, Any]]:
    """A campaign's notices in number order (per year), optionally one unit's."""
    await require_campaign(conn, campaign_id)
    q = select(notices_t).where(notices_t.c.campaign_id == campaign_id)
    if unit is not None:
        q = q.where(notices_t.c.unit_id == unit)
    q = q.order_by(notices_t.c.year, notices_t.c.number)
    return [_notice_row(r) for r in (await conn.execute(q)).mappings().all()]


def _notice_row(r: Any) -> dict[str, Any]:
    return {
        "campaign": r["campaign_id"],
        "code": r["code"],
        "year": r["year"],
        "number": r["number"],
        "date": r["plan_time"].astimezone(CST).date().isoformat(),
        "unit": r["unit_id"],
        "severity": r["severity"],
        "obligation": r["obligation_id"],
        "level": r["level"],
        "copy_to": r["copy_to"],
        "rule": r["rule_id"],
        "title": r["title"],
        "key": r["idempotency_key"],
    }


async def notice_by_code(conn: AsyncConnection, code: str, campaign_id: str | None = None) -> dict[str, Any]:
    """One notice by its number; `campaign_id` tells apart campaigns that number alike."""
    q = select(notices_t).where(notices_t.c.code == code)
    if campaign_id is not None:
        await require_campaign(conn, campaign_id)
        q = q.where(notices_t.c.campaign_id == campaign_id)
    found = (await conn.execute(q.order_by(notices_t.c.campaign_id))).mappings().all()
    if not found:
        where = f" in campaign {campaign_id!r}" if campaign_id else ""
        raise PaperNotFound(f"no notice {code!r}{where}")
    if len(found) > 1:
        camps = ", ".join(r["campaign_id"] for r in found)
        raise PaperNotFound(f"notice {code!r} is in {len(found)} campaigns ({camps}): name one with --campaign")
    return _notice_row(found[0])


async def notice_record(conn: AsyncConnection, notice: dict[str, Any]) -> dict[str, Any]:
    """The notice's audit payload: what was recorded when it was issued (severity, files' hashes)."""
    q = select(audit_events).where(
        audit_events.c.campaign_id == notice["campaign"], audit_events.c.event_key == notice["key"]
    )
    row = (await conn.execute(q)).mappings().first()
    return payload_of(row) if row is not None else {}


async def bulletin_of(conn: AsyncConnection, campaign_id: str, month: date) -> dict[str, Any]:
    await require_campaign(conn, campaign_id)
    q = select(bulletins.c.body).where(bulletins.c.campaign_id == campaign_id, bulletins.c.month == month)
    body = await conn.scalar(q)
    if body is None:
        months = (
            await conn.execute(
                select(bulletins.c.month).where(bulletins.c.campaign_id == campaign_id).order_by(bulletins.c.month)
            )
        ).scalars()
        have = ", ".join(f"{m:%Y-%m}" for m in months) or "none yet"
        raise PaperNotFound(f"no bulletin for {month:%Y-%m} in campaign {campaign_id!r} (bulletins: {have})")
    return dict(body)

"""督办通知: a notice drafted from the read side before its number is taken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents.layout import cn_date
from activities.paperwork.facts import REPLY_WORKING_DAYS, CampaignFacts
from activities.store.tables import inbox, obligations
from activities.store.tables import supervision_notices as notices_t
from models.documents import (
    OverdueItem,
    Severity,
    SupervisionNotice,
)
from models.obligation import ObligationState
from models.payloads import FiredAction
from models.ruleset import NoticeSeverity
from models.time import CST
from rules.severity import severity as severity_of

log = structlog.get_logger()


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
    conn: AsyncConnection,
    facts: CampaignFacts,
    a: FiredAction,
    *,
    thresholds: NoticeSeverity,
    round: Sequence[FiredAction] = (),
) -> NoticeDraft:
    """The notice an action issues: to its unit, listing every obligation of the unit not completed
    and due before the notice date (this one first), copied to their lead units (and the
    escalation's target, when it is neither the unit nor the issuing office).

    With `round` (the unit's notice-bearing actions of one batch, `a` the first: one notice per
    unit per round), the round's obligations come first. The colour is the unit's either way: its
    most overdue listed item, every notice the unit has had, the highest level reached."""
    acts = list(round) or [a]
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
    own_ids = list(dict.fromkeys(x.obligation_id for x in acts))
    by_id = {r.id: r for r in overdue}
    missing = [i for i in own_ids if i not in by_id]
    if missing:
        # A notice rule may fire before the due date, or the mirror may not have caught up: the
        # notice still lists the obligations it is about.
        for r in (await conn.execute(select(obligations).where(obligations.c.id.in_(missing)))).all():
            by_id[r.id] = r
    rows = [by_id[i] for i in own_ids if i in by_id] + [r for r in overdue if r.id not in own_ids]
    own = rows[0]
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
    # How often the unit has been 督办'd, whatever the item: a county office raises the colour for
    # a unit that keeps needing notices.
    earlier = select(func.count()).where(notices_t.c.campaign_id == cid, notices_t.c.unit_id == a.unit_id)
    prior = int((await conn.execute(earlier)).scalar_one())
    engine_days = {x.obligation_id: int(x.facts.get("days_overdue", 0)) for x in acts}
    items = tuple(
        OverdueItem(
            obligation_id=r.id,
            title=r.title,
            due=r.due,
            # The engine's count for the notice's own obligations (it moved a due date off a rest
            # day); the others' from the table's due date.
            overdue_working_days=(engine_days.get(r.id) or max(1, cal.working_days_between(r.due, on))),
            state=ObligationState(r.state),
            progress=r.progress,
            escalations=int(escalations.get(r.id, 0)),
        )
        for r in rows
    )
    level = max(own.escalation_level, *(x.level for x in acts))
    # The notice lists every overdue item of the unit: its colour follows the most overdue of them.
    worst = max((i.overdue_working_days for i in items if i.due < on), default=engine_days[a.obligation_id])
    colour = severity_of(thresholds, days_overdue=worst, prior_notices=prior, escalation_level=level)
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
    elif len(own_ids) > 1:
        opening += (
            f"{len(items)}项任务已超过完成时限仍未办结（见下表），其中{len(own_ids)}项经牵头单位督办仍未办结，"
            f"现提请联席会议办公室督办。"
        )
        if prior:
            opening += f"此前已向你单位下发督办通知{prior}次。"
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
        days_overdue=worst,
        prior_notices=prior,
        escalation_level=level,
    )

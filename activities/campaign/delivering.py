"""Fired actions delivered: 催办 and 督办 to the inbox (and pushed), 督办通知 numbered, rendered
and filed, the papers of a batch written after its transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from functools import cached_property
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity

from activities import paperwork
from activities.campaign.common import AUDIT_KIND, INBOX_KIND, LISTED_KIND, Base, IssuedNotice, attachments
from activities.campaign.order_rounds import issue_round_order
from activities.delivery import InboxItem, arm_inboxes, write_inbox, write_inboxes
from activities.gathering import Gatherer, Written, in_one_transaction
from activities.paperwork.on_request import render_unfiled, store_notice, unfiled_notice
from activities.store import audit
from activities.store.tables import (
    inbox,
    notice_counters,
    obligations,
    rectification_orders,
    supervision_notices,
)
from models.delivery import QuietHours
from models.payloads import Act, ArmBatch, DeliverBatch, DeliveredHere, DeliverResult, FiredAction
from models.ruleset import ActionKind, Channel
from rules.rounds import Round, notice_rounds, order_rounds

log = structlog.get_logger()


def _inbox_item(campaign_id: str, a: FiredAction, quiet: QuietHours | None) -> InboxItem:
    return InboxItem(
        key=a.key, campaign_id=campaign_id, recipient=a.recipient, kind=INBOX_KIND[a.kind],
        title=a.title, body=a.body, **audit.times(a),
        obligation_id=a.obligation_id, rule_id=a.rule_id, level=a.level,
        channels=tuple(a.channels), quiet=quiet, due=a.due,
    )  # fmt: skip


class Delivering(Base):
    @activity.defn(name=Act.deliver)
    async def deliver(self, inp: DeliverBatch) -> DeliverResult:
        """Carry out the actions a unit workflow's rules fired at one instant, in one transaction:
        each writes its inbox row and audit row (and its notice or rectification order) once,
        guarded by its idempotency key, so a retried or replayed batch writes nothing twice.

        `per_unit` (`rules.rounds`): the batch's notice-bearing actions make one 督办通知 per unit
        and its rectify actions one 责令整改 per unit, each listing its obligations; every action
        keeps its own audit row (naming its paper), so the record still reads per obligation.

        With gathering on (`deliver_batch_max` > 1), the deliveries arriving together share one
        transaction and one append to the chain (`_deliver_together`); a shared transaction that
        fails leaves each to write alone, in its own, as before."""
        out = await self._gatherer.submit(inp) if self._gatherer is not None else None
        if out is None:
            out = await self._deliver_alone(inp)
        # Papers after the numbers: rendering holds no lock, so one unit's notices do not queue
        # behind another's. Keys of notices already numbered (by this attempt or an earlier one
        # that died before its papers) are done here, from the document input on the chain.
        if inp.per_unit:
            keys = [r.key for r in notice_rounds(inp.actions)]
        else:
            keys = [a.key for a in inp.actions if a.kind is ActionKind.notice]
            keys += [f"{a.key}#notice" for a in inp.actions if a.notice and a.kind is ActionKind.escalate]
        if self.papers_on_request:
            # Nobody is sent these papers (no outbox): `duban notice` renders them when asked.
            return out
        for key in keys:
            await self._papers(inp, key)
        return out

    @activity.defn(name=Act.deliver_here)
    async def deliver_here(self, inp: DeliverBatch) -> DeliveredHere:
        """`deliver` as a local activity, the batch returned beside its result for the record."""
        return DeliveredHere(input=inp, result=await self.deliver(inp))

    async def _deliver_alone(self, inp: DeliverBatch) -> DeliverResult:
        async with self.db.begin() as conn:
            # Batches from before per-unit rounds draft their notices mid-batch, counting the
            # escalation rows before them: those still write row by row, in order.
            plain = self._plain(inp)
            new = await write_inboxes(conn, plain) if inp.per_unit else set()
            out, events = await self._write(conn, inp, plain, new)
            await audit.append(conn, inp.provenance, events)
        return out

    async def _deliver_together(self, batch: Sequence[DeliverBatch]) -> list[DeliverResult | None]:
        """Several deliveries in one transaction: every plain inbox row in one statement, then each
        delivery's own writes in turn, then every audit row in one append per campaign, last, so
        the chain's head is locked only for the append and the commit (issue 16's timer storm).

        The same unique keys decide what is new as alone; a delivery sharing a key with one in the
        batch (a retry) waits for the next batch (`Gatherer`'s keys). If anything fails, nothing
        of the batch is committed, and each delivery is told to write alone (None): a bad one then
        fails by itself and retries on its own."""
        plains: dict[int, list[InboxItem]] = {}
        new: set[str] = set()

        async def inboxes(conn: AsyncConnection) -> None:  # every plain inbox row in one statement
            plains.update((id(inp), self._plain(inp)) for inp in batch)
            new.update(await write_inboxes(conn, [i for inp in batch if inp.per_unit for i in plains[id(inp)]]))

        async def write(conn: AsyncConnection, inp: DeliverBatch) -> Written[DeliverResult]:
            out, events = await self._write(conn, inp, plains[id(inp)], new)
            return out, inp.provenance, events

        return await in_one_transaction(self.db, batch, write, what="deliveries", first=inboxes)

    @cached_property
    def _gatherer(self) -> Gatherer[DeliverBatch, DeliverResult | None] | None:
        if self.gathering is None:
            return None
        return Gatherer(self._deliver_together, self.gathering, keys=lambda inp: (a.key for a in inp.actions))

    def _plain(self, inp: DeliverBatch) -> list[InboxItem]:
        """The inbox rows of a batch's plain actions: all but notices and, per unit, the
        actions listed on the round's order (per-unit batches write them in one statement)."""
        orders = {a.key for r in order_rounds(inp.actions) for a in r.actions} if inp.per_unit else set()
        return [
            self._item(inp, a)
            for a in inp.actions
            if a.kind is not ActionKind.notice and not (a.kind is ActionKind.rectify and a.key in orders)
        ]

    async def _write(
        self, conn: AsyncConnection, inp: DeliverBatch, plain_items: list[InboxItem], new: set[str]
    ) -> tuple[DeliverResult, list[audit.Event]]:
        """A delivery's rows but its audit rows, which it returns for the append. `plain_items`:
        its `_plain` rows; `new`: the keys of those written just now (per-unit batches), taken
        from as they are delivered."""
        prov = inp.provenance
        out = DeliverResult()
        events: list[audit.Event] = []
        notices = {a.key: r for r in notice_rounds(inp.actions) for a in r.actions} if inp.per_unit else {}
        rounds = order_rounds(inp.actions) if inp.per_unit else []
        orders = {a.key: r for r in rounds for a in r.actions}
        # Every plain action's inbox row in one statement (written before: `new`), its
        # obligation's counters in one more, rather than two round trips per action (issue
        # 16.1); each row is still written once, its key unique, so a retried batch finds its
        # rows there and counts them `already`.
        plain = {i.key: i for i in plain_items}
        reminded: dict[str, int] = {}
        escalated: dict[str, int] = {}
        for a in inp.actions:
            bound = log.bind(campaign_id=prov.campaign_id, obligation_id=a.obligation_id, rule_id=a.rule_id)
            if a.kind is ActionKind.notice and a.key in notices:
                # On its unit's notice of the round: the action's own row says which.
                events.append(self._listed(a, kind=LISTED_KIND[a.kind], paper=notices[a.key].key))
                continue
            if a.kind is ActionKind.rectify and a.key in orders:
                events.append(self._listed(a, kind=LISTED_KIND[a.kind], paper=orders[a.key].key))
                continue
            if a.kind is ActionKind.notice:
                # The notice is the action: its number is taken once, under the action's own key.
                if await self._already(conn, a.key):
                    out.already += 1
                    continue
                await self._bump(conn, reminded, escalated)  # the notice reads the levels
                notice = await self._notice(conn, inp, a, key=a.key)
                out.delivered += 1
                out.notices.append(notice.code)
                events.append(self._notice_event(a, notice, key=a.key))
                bound.info("notice", code=notice.code, plan_time=a.plan_time.isoformat())
                continue
            kind = INBOX_KIND[a.kind]
            item = plain[a.key]
            if not inp.per_unit and await write_inbox(conn, item):
                new.add(a.key)
            if a.key not in new:
                out.already += 1
                bound.info("already delivered", key=a.key)
                continue
            new.discard(a.key)  # a key twice in one batch is delivered once, as before
            out.delivered += 1
            if a.kind is ActionKind.remind:
                reminded[a.obligation_id] = reminded.get(a.obligation_id, 0) + 1
            elif a.kind is ActionKind.escalate:
                escalated[a.obligation_id] = max(escalated.get(a.obligation_id, 0), a.level)
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
                        **audit.times(a),
                    )
                )
            payload = a.audit_payload()
            if a.channels != [Channel.inbox]:
                payload["channels"] = [c.value for c in a.channels]
            if a.key in notices:
                payload["notice"] = notices[a.key].key
            events.append(
                audit.event(
                    a,
                    key=a.key,
                    kind=AUDIT_KIND[a.kind],
                    actor=f"rule:{a.rule_id}",
                    obligation_id=a.obligation_id,
                    unit_id=a.unit_id,
                    rule_id=a.rule_id,
                    payload=payload,
                )
            )
            bound.info(kind, recipient=a.recipient, plan_time=a.plan_time.isoformat())
            await self._push(conn, item)
            if a.notice and not inp.per_unit:
                await self._bump(conn, reminded, escalated)  # the notice reads the levels
                notice = await self._notice(conn, inp, a, key=f"{a.key}#notice")
                out.notices.append(notice.code)
                events.append(self._notice_event(a, notice, key=f"{a.key}#notice"))
        # Before any notice is drafted: a notice's colour reads its obligations' 督办 levels.
        await self._bump(conn, reminded, escalated)
        for r in notice_rounds(inp.actions) if inp.per_unit else []:
            if await self._already(conn, r.key):
                continue
            notice = await self._notice(conn, inp, r.actions[0], key=r.key, round=r)
            out.delivered += 1
            out.notices.append(notice.code)
            events.append(self._notice_event(r.actions[0], notice, key=r.key, round=r))
        for r in rounds:
            facts = await self.papers.facts(conn, prov.campaign_id)
            ruleset = await self.papers.ruleset(conn, prov.campaign_id, prov.ruleset_hash)
            issued = await issue_round_order(conn, facts, ruleset, r, quiet=inp.quiet_hours)
            if issued is not None:
                paper, event = issued
                out.delivered += 1
                events.append(event)
                if paper is not None:
                    await self._push(conn, paper)
        if rounds:  # read back, not tracked: a retry after the commit says the same
            keys = [r.key for r in rounds]
            col = rectification_orders.c.idempotency_key
            ordered = set((await conn.execute(select(col).where(col.in_(keys)))).scalars())
            out.added = [k for k in keys if k not in ordered]
        return out, events

    @staticmethod
    def _item(inp: DeliverBatch, a: FiredAction) -> InboxItem:
        return _inbox_item(inp.provenance.campaign_id, a, inp.quiet_hours)

    @activity.defn(name=Act.arm)
    async def arm(self, inp: ArmBatch) -> int:
        """A live unit's reminders of its next instant written ahead, shown from that instant; the
        delivery at the instant confirms them (`write_inboxes`) and the chain records them then.
        No audit row here: until the instant nothing has happened. Idempotent by the keys (an
        armed key again replaces its text), so a retry writes nothing twice. How many armed."""
        items = [_inbox_item(inp.campaign_id, a, None) for a in inp.actions]
        async with self.db.begin() as conn:
            await arm_inboxes(conn, items, inp.disarm)
        log.info("armed", campaign_id=inp.campaign_id, armed=len(items), disarmed=len(inp.disarm))
        return len(items)

    @staticmethod
    async def _bump(conn: AsyncConnection, reminded: dict[str, int], escalated: dict[str, int]) -> None:
        """The obligations' 催办 counts and 督办 levels gathered so far, one executemany each (one
        round trip), then forgotten (applied once)."""
        if reminded:
            await conn.execute(
                update(obligations)
                .where(obligations.c.id == bindparam("oid"))
                .values(reminders=obligations.c.reminders + bindparam("n")),
                [{"oid": oid, "n": n} for oid, n in sorted(reminded.items())],
            )
        if escalated:
            await conn.execute(
                update(obligations)
                .where(obligations.c.id == bindparam("oid"))
                .values(escalation_level=func.greatest(obligations.c.escalation_level, bindparam("lvl"))),
                [{"oid": oid, "lvl": lvl} for oid, lvl in sorted(escalated.items())],
            )
        reminded.clear()
        escalated.clear()

    @staticmethod
    def _listed(a: FiredAction, *, kind: str, paper: str) -> audit.Event:
        """The audit row of an action whose paper is its unit's (a notice or order of the round)."""
        return audit.event(
            a,
            key=a.key,
            kind=kind,
            actor=f"rule:{a.rule_id}",
            obligation_id=a.obligation_id,
            unit_id=a.unit_id,
            rule_id=a.rule_id,
            payload={**a.audit_payload(), "paper": paper},
        )

    async def _papers(self, inp: DeliverBatch, key: str) -> None:
        """Render a numbered notice (DOCX + PDF) from the document input its audit row holds,
        store the files and push its e-mail with them attached: once, whatever the retries."""
        cid = inp.provenance.campaign_id
        async with self.db.connect() as conn:
            found = await unfiled_notice(conn, cid, key)
        if found is None:
            return
        notice, record = found
        began = time.perf_counter()
        files = await render_unfiled(record)
        async with self.db.begin() as conn:
            await store_notice(conn, notice, files)
            await self._push(
                conn,
                InboxItem(
                    key=key, campaign_id=cid, recipient=notice["unit_id"], kind="notice", title=notice["title"],
                    body=notice["body"], plan_time=notice["plan_time"], server_time=notice["server_time"],
                    obligation_id=notice["obligation_id"], rule_id=notice["rule_id"], level=notice["level"],
                    channels=tuple(record.get("channels", ["inbox"])), quiet=inp.quiet_hours,
                    due=date.fromisoformat(record["reply_by"]) if "reply_by" in record else None,
                ),
                attachments(files, "pdf", "docx"),
            )  # fmt: skip
        ms = round(1000 * (time.perf_counter() - began))
        log.info("notice rendered", campaign_id=cid, code=notice["code"], ms=ms)

    @staticmethod
    async def _already(conn: AsyncConnection, key: str) -> bool:
        return (await conn.execute(select(inbox.c.id).where(inbox.c.idempotency_key == key))).first() is not None

    @staticmethod
    def _notice_event(a: FiredAction, notice: IssuedNotice, *, key: str, round: Round | None = None) -> audit.Event:
        """The notice's own audit row. A round's names no obligation (its actions' rows do, each
        naming this notice), so an obligation's record counts the notice once."""
        payload: dict[str, Any] = {"code": notice.code, "to": a.unit_id, "level": a.level, **notice.record}
        if round is not None:
            payload["level"] = max(x.level for x in round.actions)
            payload["listed"] = [x.key for x in round.actions]
        return audit.event(
            a,
            key=key,
            kind="notice",
            actor=f"rule:{a.rule_id}",
            obligation_id=a.obligation_id if round is None else None,
            unit_id=a.unit_id,
            rule_id=a.rule_id,
            payload=payload,
        )

    async def _notice(
        self, conn: AsyncConnection, inp: DeliverBatch, a: FiredAction, *, key: str, round: Round | None = None
    ) -> IssuedNotice:
        """A numbered 督办通知: its row, its inbox row, and the record of its audit row (with the
        document's whole input); its DOCX + PDF come after the commit (`_papers`).

        The counter moves in the same transaction as the notice, so a number is never skipped (a
        rolled-back attempt takes its number back) nor reused. Its row stays locked until the
        transaction commits, so everything but the number is read first (`draft_notice`) and
        only the writes happen after it is taken."""
        cid, year = inp.provenance.campaign_id, a.plan_time.year
        facts = await self.papers.facts(conn, cid)
        thresholds = await self.papers.severity(conn, cid, inp.provenance.ruleset_hash)
        acts = round.actions if round is not None else (a,)
        draft = await paperwork.draft_notice(conn, facts, a, thresholds=thresholds, round=acts if round else ())
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
        several = round is not None and len(round.obligation_ids) > 1
        body = (
            f"{code}（{draft.severity.label}）\n{draft.body[0] if several else a.body}\n"
            f"请于收到本通知后{paperwork.REPLY_WORKING_DAYS}个工作日内书面报告整改落实情况。"
        )
        title = (
            f"督办通知 {code}：{draft.addressee}逾期任务{len(draft.items)}项"
            if several
            else f"督办通知 {code}：{a.title}"
        )
        level = max(x.level for x in acts)
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
                level=level,
                title=title,
                body=body,
                **audit.times(a),
                severity=draft.severity.value,
            )
        )
        await write_inbox(
            conn,
            InboxItem(
                key=key, campaign_id=cid, recipient=a.unit_id, kind="notice", title=title, body=body,
                **audit.times(a), obligation_id=a.obligation_id, rule_id=a.rule_id,
                level=level,
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
                **({"round": round.obligation_ids} if round is not None else {}),
                "reply_by": draft.reply_by.isoformat(),
                # The document's whole input: the papers are rendered from it after the number's
                # transaction, and anyone can render it again and compare the stored files' hashes.
                "document": document.model_dump(mode="json"),
                "channels": list(dict.fromkeys(c.value for x in acts for c in x.channels)),
            },
        )

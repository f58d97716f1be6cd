"""Assessment scores as stored: each row pinned to the campaign's score book by its hash, each an
audit event in the same transaction. A correction is a new row that supersedes the one it
corrects; the current scores are the rows nothing supersedes.

One path for every score, whoever gives it: `duban scores enter/import` (the office, from the
command line, outside any workflow) and the rehearsal's simulated assessors (an activity) both
call `store`. Writers lock the campaign row (FOR NO KEY UPDATE), as the final evaluation does, so
a score is either in the evaluation or refused, never lost between the two; the lock does not
block the activities that insert rows referring to the campaign (they take KEY SHARE).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from activities.store import audit
from activities.store.tables import assessment_scores, audit_events, campaigns, documents
from models.assessment import ScoreBook, ScoreRecord
from models.calendar import CalendarData
from models.payloads import Provenance
from models.plan import Plan, Unit
from models.time import CST, Clock
from rules.scoring import EntryError, check, score

CLI_WORKFLOW = "cli:scores"
"""The workflow id on the audit rows of scores entered from the command line: no workflow made
them, so `audit verify` holds them to the chain alone (see activities.history)."""

EVALUATION_KIND = "evaluation"
"""The `documents` kind of the stored evaluation JSON: once it exists, scores are refused."""


class Refused(Exception):
    """The campaign takes no scores (unknown, launched without score sheets, evaluated, closed),
    or a score does not fit it. `code` is the CLI's exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Pinned:
    """A campaign as its scores see it: the plan, score book, calendar and clock it launched with."""

    campaign_id: str
    status: str
    plan: Plan
    book: ScoreBook
    book_hash: str
    clock: Clock
    calendar: CalendarData
    plan_hash: str
    ruleset_hash: str
    closed: datetime | None
    evaluated: datetime | None
    """Plan time of the stored final evaluation, if made."""

    def scope(self) -> tuple[Unit, ...]:
        return self.book.units_in_scope(self.plan.directory)

    def plan_now(self, server_now: datetime) -> datetime:
        return self.clock.plan_time(server_now)

    def refusal(self) -> str | None:
        """Why the campaign takes no new scores, or None."""
        if self.status == "closed":
            when = f" on {self.closed.astimezone(CST):%Y-%m-%d}" if self.closed else ""
            return f"campaign {self.campaign_id} is closed{when}: it takes no new scores"
        if self.evaluated is not None:
            return (
                f"campaign {self.campaign_id}: the final evaluation was made on "
                f"{self.evaluated.astimezone(CST):%Y-%m-%d}; a score entered now would count in nothing"
            )
        return None


async def pinned(conn: AsyncConnection, campaign_id: str, *, lock: bool = False) -> Pinned:
    """The campaign's pinned plan and score book; with `lock`, its row held until the transaction ends.

    Raises:
        Refused: no such campaign, or it was launched without score sheets.
    """
    q = select(campaigns).where(campaigns.c.id == campaign_id)
    if lock:
        q = q.with_for_update(key_share=True)
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        raise Refused(f"no campaign {campaign_id!r}")
    if row["scorebook"] is None:
        raise Refused(
            f"campaign {campaign_id} was launched without score sheets (launch it with --sheets): "
            "it has no sheet to score on"
        )
    evaluated = (
        await conn.execute(
            select(documents.c.plan_time)
            .where(documents.c.campaign_id == campaign_id, documents.c.kind == EVALUATION_KIND)
            .limit(1)
        )
    ).scalar()
    # The rule set in force is the one the latest audit row names (a rule set installed on the
    # running campaign replaces the launched one).
    ruleset_hash = (
        await conn.execute(
            select(audit_events.c.ruleset_hash)
            .where(audit_events.c.campaign_id == campaign_id)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        )
    ).scalar()
    clock = Clock.model_validate(row["clock"]) if row["clock"] else Clock(offset_seconds=row["offset_seconds"])
    return Pinned(
        campaign_id=campaign_id,
        status=row["status"],
        plan=Plan.model_validate(row["plan"]),
        book=ScoreBook.model_validate(row["scorebook"]),
        book_hash=row["scorebook_hash"],
        clock=clock,
        calendar=CalendarData.model_validate(row["calendar"]),
        plan_hash=row["plan_hash"],
        ruleset_hash=ruleset_hash or row["ruleset_hash"],
        closed=row["closed_plan_time"],
        evaluated=evaluated,
    )


def cli_provenance(p: Pinned) -> Provenance:
    """Audit provenance of scores entered from the command line: one run id per command."""
    return Provenance(
        campaign_id=p.campaign_id,
        plan_hash=p.plan_hash,
        ruleset_hash=p.ruleset_hash,
        workflow_id=CLI_WORKFLOW,
        run_id=uuid.uuid4().hex,
    )


def score_key(campaign_id: str, r: ScoreRecord, version: int = 1) -> str:
    base = f"{campaign_id}#score#{r.sheet_id}#{r.unit_id}#{r.assessed_on.isoformat()}#{r.source[:120]}"
    return base if version == 1 else f"{base}#{version}"


@dataclass(frozen=True)
class Stored:
    id: int
    key: str
    record: ScoreRecord
    total: float
    passed: bool
    supersedes: int | None
    new: bool
    """False: the same scores were already the current ones (a retry, a file imported twice)."""


def as_record(row: Any) -> ScoreRecord:
    return ScoreRecord(
        sheet_id=row.sheet_id,
        unit_id=row.unit_id,
        assessor=row.assessor,
        assessed_on=row.assessed_on,
        points=row.points,
        findings=tuple(row.findings),
        source=row.source,
    )


def _same(a: ScoreRecord, b: ScoreRecord) -> bool:
    return (a.assessor, a.points, tuple(a.findings)) == (b.assessor, b.points, tuple(b.findings))


async def store(
    conn: AsyncConnection,
    p: Pinned,
    records: Sequence[ScoreRecord],
    *,
    entered_by: str,
    provenance: Provenance,
    plan_time: datetime,
    server_time: datetime,
) -> list[Stored]:
    """Store every record in the caller's transaction (all or nothing), each with its audit event.

    A record for a (sheet, unit, date) that already has scores supersedes the current ones,
    unless it repeats them (then nothing is written: retries and re-imports are no-ops).

    Raises:
        Refused: the campaign is closed or evaluated, or a record names a sheet or unit it lacks.
        EntryError: a record does not fit its sheet.
    """
    if why := p.refusal():
        raise Refused(why)
    scope = {u.id for u in p.scope()}
    problems: list[str] = []
    for r in records:
        try:
            sheet = p.book.sheet(r.sheet_id)
        except KeyError:
            raise Refused(f"no score sheet {r.sheet_id!r} in campaign {p.campaign_id}'s score book", code=2) from None
        if r.unit_id not in scope:
            problems.append(f"{r.unit_id}: 不是评分范围内的单位（镇、场、景区）")
        problems += [f"{r.unit_id}: {x}" for x in check(sheet, r)]
    if problems:
        raise EntryError(problems)

    s = assessment_scores
    rows = (
        await conn.execute(
            select(s).where(
                s.c.campaign_id == p.campaign_id,
                s.c.sheet_id.in_({r.sheet_id for r in records}),
                s.c.unit_id.in_({r.unit_id for r in records}),
                s.c.assessed_on.in_({r.assessed_on for r in records}),
            )
        )
    ).all()
    versions: dict[tuple[str, str, date], int] = defaultdict(int)
    latest: dict[tuple[str, str, date], tuple[int, ScoreRecord, str]] = {}
    for row in sorted(rows, key=lambda x: x.id):
        k = (row.sheet_id, row.unit_id, row.assessed_on)
        versions[k] += 1
        latest[k] = (row.id, as_record(row), row.idempotency_key)

    out: list[Stored] = []
    events: list[audit.Event] = []
    for r in records:
        sheet = p.book.sheet(r.sheet_id)
        result = score(sheet, r)
        k = (r.sheet_id, r.unit_id, r.assessed_on)
        current = latest.get(k)
        if current is not None and _same(current[1], r):
            out.append(Stored(current[0], current[2], current[1], result.total, result.passed, None, new=False))
            continue
        versions[k] += 1
        key = score_key(p.campaign_id, r, versions[k])
        supersedes = current[0] if current else None
        new_id = (
            await conn.execute(
                insert(s)
                .values(
                    idempotency_key=key,
                    campaign_id=p.campaign_id,
                    sheet_id=r.sheet_id,
                    scorebook_hash=p.book_hash,
                    unit_id=r.unit_id,
                    assessed_on=r.assessed_on,
                    assessor=r.assessor,
                    points=r.points,
                    findings=list(r.findings),
                    total=result.total,
                    passed=result.passed,
                    source=r.source,
                    entered_by=entered_by,
                    supersedes=supersedes,
                    plan_time=plan_time,
                    server_time=server_time,
                )
                .returning(s.c.id)
            )
        ).scalar_one()
        latest[k] = (new_id, r, key)
        out.append(Stored(new_id, key, r, result.total, result.passed, supersedes, new=True))
        events.append(
            audit.Event(
                key=key,
                kind="score.corrected" if supersedes else "score.entered",
                plan_time=plan_time,
                server_time=server_time,
                actor=entered_by,
                unit_id=r.unit_id,
                payload={
                    "sheet": r.sheet_id,
                    "assessed_on": r.assessed_on.isoformat(),
                    "assessor": r.assessor,
                    "points": r.points,
                    "findings": list(r.findings),
                    "total": result.total,
                    "passed": result.passed,
                    "source": r.source,
                    "scorebook_hash": p.book_hash,
                    "supersedes": supersedes,
                    "score_id": new_id,
                },
            )
        )
    await audit.append(conn, provenance, events)
    return out


async def current(
    conn: AsyncConnection,
    campaign_id: str,
    *,
    sheets: Iterable[str] | None = None,
    units: Iterable[str] | None = None,
    on_or_before: date | None = None,
) -> list[Any]:
    """The current score rows (nothing supersedes them), oldest first."""
    s = assessment_scores
    newer = aliased(s)
    q = select(s).where(s.c.campaign_id == campaign_id, ~exists().where(newer.c.supersedes == s.c.id))
    if sheets is not None:
        q = q.where(s.c.sheet_id.in_(list(sheets)))
    if units is not None:
        q = q.where(s.c.unit_id.in_(list(units)))
    if on_or_before is not None:
        q = q.where(s.c.assessed_on <= on_or_before)
    return list((await conn.execute(q.order_by(s.c.id))).all())


def latest_per_unit(rows: Iterable[Any]) -> dict[str, Any]:
    """Of current rows on one sheet, each unit's latest: by date, then by when it was stored."""
    out: dict[str, Any] = {}
    for row in sorted(rows, key=lambda x: (x.assessed_on, x.id)):
        out[row.unit_id] = row
    return out

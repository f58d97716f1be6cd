"""Assessment scores (考核评分) entered or imported into a campaign, and the comprehensive
evaluation (综合评价) they feed. Checked against the score book the campaign pinned at launch
and stored straight into PostgreSQL (one transaction, with the audit rows); no Temporal server
is needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents.final_report import render_final_report
from activities.evaluation import FINAL_REPORT, evaluation_of
from activities.paperwork import ChecksumMismatch
from activities.paperwork.final_report_request import file_final_report_on_request
from activities.store import scores as stored_scores
from activities.store import views
from models.assessment import EvaluationRecord, EvaluationWeights, ScoreBook, ScoreRecord, ScoreSheet, SheetScore
from models.plan import Unit
from models.views import PaperFile, ScoreList
from rules.score_import import Cell, read_scores
from rules.scoring import EntryError, enter, score
from services.context import Services
from services.errors import Conflict, Invalid, NotFound


class StoredScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    new: bool
    """False: the same scores were already the current ones (nothing written)."""
    supersedes: int | None


class Scored(BaseModel):
    """Scores checked against the campaign's sheet, and what was stored (None: a dry run)."""

    model_config = ConfigDict(frozen=True)

    sheet: ScoreSheet
    scope: tuple[Unit, ...]
    records: list[ScoreRecord]
    scores: list[SheetScore]
    stored: list[StoredScore] | None


class EvaluationAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    record: EvaluationRecord
    raw: bytes
    """The evaluation as JSON: as stored, or as computed for a provisional one."""
    files: dict[str, PaperFile]
    """The final report's files by format (rendered on request for a provisional one)."""
    weights: EvaluationWeights


@asynccontextmanager
async def _campaign(
    ctx: Services, campaign: str, *, store: bool
) -> AsyncIterator[tuple[AsyncConnection, stored_scores.Pinned]]:
    """One transaction on the campaign as its scores see it (its row locked when storing)."""
    try:
        async with ctx.writing() as conn:
            if await views.campaign_head(conn, campaign) is None:
                raise NotFound(f"no campaign {campaign!r}")
            p = await stored_scores.pinned(conn, campaign, lock=store)
            if store and (why := p.refusal()):
                raise Conflict(why)
            yield conn, p
    except stored_scores.Refused as e:
        raise (Invalid if e.code == 2 else Conflict)(str(e)) from None
    except EntryError as e:
        raise Invalid("\n".join(e.problems)) from None


def sheet_of(book: ScoreBook, sheet_id: str) -> ScoreSheet:
    try:
        return book.sheet(sheet_id)
    except KeyError:
        known = ", ".join(s.id for s in book.sheets)
        raise Invalid(f"no score sheet {sheet_id!r} (the file has {known})") from None


async def _store(
    conn: AsyncConnection, p: stored_scores.Pinned, records: Sequence[ScoreRecord], entered_by: str
) -> list[StoredScore]:
    now = datetime.now(UTC)
    done = await stored_scores.store(
        conn,
        p,
        records,
        entered_by=entered_by,
        provenance=stored_scores.cli_provenance(p),
        plan_time=p.plan_now(now),
        server_time=now,
    )
    return [StoredScore(id=x.id, new=x.new, supersedes=x.supersedes) for x in done]


def _scored(
    sheet: ScoreSheet, p: stored_scores.Pinned, records: list[ScoreRecord], stored: list[StoredScore] | None
) -> Scored:
    return Scored(
        sheet=sheet, scope=p.scope(), records=records, scores=[score(sheet, r) for r in records], stored=stored
    )


async def import_scores(
    ctx: Services,
    *,
    campaign: str,
    sheet_id: str,
    cells: Sequence[Sequence[Cell]],
    source: str,
    where: str,
    entered_by: str,
    assessor: str | None = None,
    on: date | None = None,
    dry_run: bool = False,
) -> Scored:
    """A filled sheet into the campaign, all or nothing: Invalid naming every bad cell (`where`
    names the workbook), and nothing stored. A town scored again on the same day corrects it.

    Args:
        source: the records' source label (the file's name; each record gets "SOURCE:ROW").
        assessor, on: for rows that leave the 评分人 / 评分日期 cell empty.
    """
    async with _campaign(ctx, campaign, store=not dry_run) as (conn, p):
        sheet = sheet_of(p.book, sheet_id)
        got = read_scores(
            sheet, p.scope(), cells, source=source, assessor=assessor.strip() if assessor else None, on=on
        )
        if not got.ok:
            lines = [f"{where}: {len(got.errors)} bad cells; nothing imported", *(str(bad) for bad in got.errors)]
            raise Invalid("\n".join(lines))
        records = list(got.records)
        return _scored(sheet, p, records, None if dry_run else await _store(conn, p, records, entered_by))


async def enter_scores(
    ctx: Services,
    *,
    campaign: str,
    sheet_id: str,
    unit: str,
    pairs: Sequence[str],
    assessor: str,
    on: date,
    entered_by: str,
    findings: Sequence[str] = (),
    dry_run: bool = False,
) -> Scored:
    """One unit's `CRITERION=POINTS` scores on a sheet: stored, or Invalid naming every problem.
    The same unit, sheet and date again corrects the earlier scores."""
    async with _campaign(ctx, campaign, store=not dry_run) as (conn, p):
        sheet = sheet_of(p.book, sheet_id)
        try:
            record = enter(sheet, units=p.scope(), unit=unit, pairs=pairs, assessor=assessor, on=on, findings=findings)
        except EntryError as e:
            lines = [f"{sheet.id} {unit}: {len(e.problems)} problems; nothing entered", *e.problems]
            raise Invalid("\n".join(lines)) from None
        return _scored(sheet, p, [record], None if dry_run else await _store(conn, p, [record], entered_by))


async def list_scores(
    ctx: Services, *, campaign: str, sheet: str | None = None, unit: str | None = None, everything: bool = False
) -> ScoreList:
    """The stored scores: the current ones (with `everything`, also those corrected since)."""
    async with _campaign(ctx, campaign, store=False) as (conn, p):
        rows = await views.scores(conn, campaign, sheet=sheet, unit=unit, everything=everything)
        return ScoreList(campaign=campaign, names={u.id: u.name for u in p.scope()}, scores=rows)


async def evaluation(ctx: Services, *, campaign: str, render: bool = False) -> EvaluationAnswer:
    """The stored comprehensive evaluation, once the evaluation phase has ended; before then a
    provisional one, computed now and stored nowhere (its report rendered only with `render`)."""
    async with _campaign(ctx, campaign, store=False) as (conn, p):
        # A rehearsal leaves the final report for the first request, as its notices and bulletins:
        # rendered from the input on the audit chain, stored once, then read back checked.
        await file_final_report_on_request(conn, campaign)
        try:
            stored = await views.stored_evaluation(conn, campaign, report_kind=FINAL_REPORT)
        except ChecksumMismatch as e:
            raise Conflict(f"refusing to write a file that does not match its record: {e}") from None
        if stored is not None:
            raw, files = stored
            record = EvaluationRecord.model_validate_json(raw)
        else:
            as_of = min(p.plan_now(datetime.now(UTC)).date(), p.plan.end)
            record, report = await evaluation_of(conn, campaign, as_of=as_of, provisional=True)
            files = {}
            if render:
                rendered = await asyncio.to_thread(render_final_report, report)
                files = {
                    fmt: PaperFile(format=fmt, filename=f.name, sha256=f.sha256, content=f.data)
                    for fmt, f in rendered.items()
                }
            raw = record.model_dump_json(indent=2).encode()
        return EvaluationAnswer(record=record, raw=raw, files=files, weights=p.book.evaluation)

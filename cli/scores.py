"""`duban scores check|template|import|enter|list`: score sheets (plans/scoresheets/*.yaml), and
scores entered or imported from Excel into a campaign (checked against the score book it
pinned at launch; no Temporal server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from activities.score_workbook import WorkbookError, read_cells, write_template
from cli.common import UserError, call, err, login, out, parse_date
from models.assessment import ScoreRecord, SheetScore
from rules.scoring import date_problem
from services import scores
from services.plans import DEFAULT_PLAN, DEFAULT_SHEETS, DEFAULT_UNITS, load_directory, load_plan, load_scorebook

app = typer.Typer(
    no_args_is_help=True, help="Assessment scores (考核评分): check sheets, template, import, enter, list."
)
_SHEETS_OPT = typer.Option(DEFAULT_SHEETS, "--sheets", help="Score-sheet file.", show_default=False)
_UNITS_OPT = typer.Option(
    DEFAULT_UNITS, "--units", help="Unit directory (the towns in scope are scored).", show_default=False
)
_BY_OPT = typer.Option(None, "--by", help="Who enters the scores (录入人; default: your login name).")
_DRY_OPT = typer.Option(False, "--dry-run", help="Check and compute against the campaign; store nothing.")


def _entered_by(by: str | None) -> str:
    return by.strip()[:100] if by and by.strip() else login()


def _score_json(record: ScoreRecord, result: SheetScore) -> dict[str, object]:
    return {"record": record.model_dump(mode="json"), "score": result.model_dump(mode="json")}


def _stored_line(campaign: str, done: scores.Scored) -> str:
    if done.stored is None:
        return "dry run: nothing stored"
    new = [x for x in done.stored if x.new]
    corrected = sum(x.supersedes is not None for x in new)
    parts = [f"stored {len(new)} scores in {campaign}"]
    if corrected:
        parts.append(f"{corrected} correcting earlier ones")
    if len(done.stored) - len(new):
        parts.append(f"{len(done.stored) - len(new)} unchanged (already stored)")
    return "; ".join(parts)


@app.command("check")
def check(
    file: Path = typer.Argument(DEFAULT_SHEETS, metavar="[FILE]", show_default=False),
    plan: Path = typer.Option(DEFAULT_PLAN, "--plan", help="The plan whose milestones and tasks the sheets name."),
) -> None:
    """Validate a score-sheet file: exit 0 with a summary, or 2 with FILE:LINE: message."""
    book = load_scorebook(file, load_plan(plan))
    kinds = ", ".join(f"{s.id} ({len(s.criteria)} criteria, pass {s.pass_mark:g})" for s in book.sheets)
    out.print(f"{file}: ok: {len(book.sheets)} sheets for {book.plan}: {kinds}; {book.digest()[:19]}", markup=False)


@app.command("template")
def template(
    sheet_id: str = typer.Argument(..., metavar="SHEET"),
    out_file: Path = typer.Option(..., "--out", help="The .xlsx file to write."),
    units: Path = _UNITS_OPT,
    sheets: Path = _SHEETS_OPT,
    assessor: str | None = typer.Option(None, "--assessor", help="Pre-fill the 评分人 column."),
    on: str | None = typer.Option(None, "--date", help="Pre-fill the 评分日期 column (YYYY-MM-DD)."),
) -> None:
    """Write the blank sheet: one row per town in scope, one column per criterion."""
    book = load_scorebook(sheets)
    sheet = scores.sheet_of(book, sheet_id)
    day = parse_date(on) if on else None
    if day is not None and (why := date_problem(sheet, day)):
        raise UserError(f"--date: {why}")
    scope = book.units_in_scope(load_directory(units))
    if out_file.suffix.lower() != ".xlsx":
        raise UserError(f"{out_file}: the template is an .xlsx workbook; name it F.xlsx")
    try:
        write_template(out_file, sheet, scope, assessor=assessor, on=day)
    except OSError as e:
        raise UserError(f"{out_file}: cannot write: {e.strerror or e}") from None
    out.print(
        f"{out_file}: {sheet.name} ({sheet.id}): {len(scope)} units × {len(sheet.criteria)} criteria", markup=False
    )


@app.command("import")
def import_(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    sheet_id: str = typer.Argument(..., metavar="SHEET"),
    file: Path = typer.Argument(..., metavar="FILE.xlsx"),
    assessor: str | None = typer.Option(None, "--assessor", help="For rows with no 评分人."),
    on: str | None = typer.Option(None, "--date", help="For rows with no 评分日期 (YYYY-MM-DD)."),
    by: str | None = _BY_OPT,
    dry_run: bool = _DRY_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print the records and scores as JSON."),
) -> None:
    """Import a filled sheet into a campaign, all or nothing: exit 0 with what was stored, or 2
    naming every bad cell (and nothing stored). A town scored again on the same day corrects it."""
    day = parse_date(on) if on else None
    try:
        title, cells = read_cells(file, prefer=sheet_id)
    except WorkbookError as e:
        raise UserError(str(e)) from None
    done = call(
        lambda ctx: scores.import_scores(
            ctx,
            campaign=campaign,
            sheet_id=sheet_id,
            cells=cells,
            source=file.name,
            where=f"{file} (worksheet {title})",
            entered_by=_entered_by(by),
            assessor=assessor,
            on=day,
            dry_run=dry_run,
        )
    )
    sheet, results = done.sheet, done.scores
    if as_json:
        out.print_json(
            json.dumps([_score_json(r, s) for r, s in zip(done.records, results, strict=True)], ensure_ascii=False)
        )
    else:
        passed = sum(s.passed for s in results)
        mean = sum(s.total for s in results) / len(results)
        missing = [u.name for u in done.scope if u.id not in {r.unit_id for r in done.records}]
        out.print(
            f"{file}: ok: {len(results)} units on {sheet.id} ({sheet.name}): {passed} passed, "
            f"{len(results) - passed} failed (pass mark {sheet.pass_mark:g}); mean {mean:.2f}"
            + (f"; not scored: {'、'.join(missing)}" if missing else ""),
            markup=False,
        )
        names = {u.id: u.name for u in done.scope}
        t = Table("unit", "name", *(c.id for c in sheet.criteria), "score", "result")
        for s in results:
            t.add_row(
                s.unit_id,
                names[s.unit_id],
                *(f"{c.points:g}" for c in s.criteria),
                f"{s.total:.2f}",
                "pass" if s.passed else "FAIL",
            )
        out.print(t)
    err.print(_stored_line(campaign, done), markup=False)


@app.command("enter")
def enter(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    sheet_id: str = typer.Argument(..., metavar="SHEET"),
    unit: str = typer.Argument(..., metavar="UNIT"),
    pairs: list[str] = typer.Argument(..., metavar="CRITERION=POINTS..."),
    assessor: str = typer.Option(..., "--assessor", help="Who scored (评分人)."),
    on: str = typer.Option(..., "--date", help="When (YYYY-MM-DD); a 拉练检查 is on one of its set dates."),
    findings: list[str] = typer.Option([], "--finding", help="A finding (问题); repeat for more."),
    by: str | None = _BY_OPT,
    dry_run: bool = _DRY_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print the record and its score as JSON."),
) -> None:
    """Enter one unit's scores on a sheet into a campaign: stored (exit 0), or every problem
    (exit 2). Entering the same unit, sheet and date again corrects the earlier scores."""
    day = parse_date(on)
    done = call(
        lambda ctx: scores.enter_scores(
            ctx,
            campaign=campaign,
            sheet_id=sheet_id,
            unit=unit,
            pairs=pairs,
            assessor=assessor,
            on=day,
            findings=findings,
            entered_by=_entered_by(by),
            dry_run=dry_run,
        )
    )
    sheet, [record], [result] = done.sheet, done.records, done.scores
    if as_json:
        data = _score_json(record, result)
        if done.stored:
            first = done.stored[0]
            data["stored"] = {"id": first.id, "new": first.new, "supersedes": first.supersedes}
        out.print_json(json.dumps(data, ensure_ascii=False))
    else:
        name = next(u.name for u in done.scope if u.id == record.unit_id)
        out.print(
            f"{sheet.name} ({sheet.id}) · {name} ({record.unit_id}) · {record.assessor} · {record.assessed_on}",
            markup=False,
        )
        t = Table("criterion", "name", "points", "max", "weight", "weighted", "")
        for c in result.criteria:
            t.add_row(
                c.criterion_id,
                sheet.criterion(c.criterion_id).name,
                f"{c.points:g}",
                f"{c.max_points:g}",
                f"{c.weight:g}",
                f"{c.weighted:.2f}",
                "不达标" if c.failed else "",
            )
        out.print(t)
        verdict = "pass" if result.passed else "FAIL"
        out.print(f"score {result.total:.2f} / 100, pass mark {sheet.pass_mark:g}: {verdict}", markup=False)
        for f in record.findings:
            out.print(f"finding: {f}", markup=False)
    err.print(_stored_line(campaign, done), markup=False)


@app.command("list")
def list_(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    sheet_id: str | None = typer.Option(None, "--sheet", help="Only this sheet."),
    unit: str | None = typer.Option(None, "--unit", help="Only this unit (id)."),
    everything: bool = typer.Option(False, "--all", help="Also the scores corrected since."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A campaign's stored scores: the current ones (with --all, also those corrected since)."""
    found = call(
        lambda ctx: scores.list_scores(ctx, campaign=campaign, sheet=sheet_id, unit=unit, everything=everything)
    )
    rows = found.scores
    if as_json:
        data = [
            {
                "id": r.id,
                "sheet": r.sheet_id,
                "unit": r.unit_id,
                "assessed_on": r.assessed_on.isoformat(),
                "assessor": r.assessor,
                "points": r.points,
                "findings": r.findings,
                "total": r.total,
                "passed": r.passed,
                "source": r.source,
                "entered_by": r.entered_by,
                "supersedes": r.supersedes,
                "scorebook_hash": r.scorebook_hash,
            }
            for r in rows
        ]
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    t = Table("id", "sheet", "unit", "name", "date", "score", "result", "assessor", "source", "supersedes")
    for r in rows:
        t.add_row(
            str(r.id),
            r.sheet_id,
            r.unit_id,
            found.names.get(r.unit_id, ""),
            r.assessed_on.isoformat(),
            f"{r.total:.2f}",
            "pass" if r.passed else "FAIL",
            r.assessor,
            r.source,
            str(r.supersedes or ""),
        )
    if rows:
        out.print(t)
    out.print(f"{campaign}: {len(rows)} scores", markup=False)

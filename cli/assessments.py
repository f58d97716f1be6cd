"""`duban assessments list|nominate`: the assessments a campaign held (达标验收 and the plan's
scheduled 日常督导, 拉练检查, 年度总评 …), and the office's 楚天杯 nominations of individuals."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from cli.common import as_office, call, out
from models.plan import ASSESSMENT_KIND_NAMES
from services import assessments

app = typer.Typer(no_args_is_help=True, help="Assessments held (考核) and 楚天杯 nominations.")


@app.command("list")
def list_(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    kind: str | None = typer.Option(None, "--kind", help="routine, field_inspection, annual_review or acceptance."),
    as_json: bool = typer.Option(False, "--json", help="Every unit judged, and the counts per kind, as JSON."),
) -> None:
    """Every unit judged in every assessment, in the order held, and per kind the rounds held."""
    found = call(lambda ctx: assessments.list_assessments(ctx, campaign=campaign, kind=kind))
    if as_json:
        out.print_json(json.dumps(found.model_dump(mode="json"), ensure_ascii=False))
        return
    t = Table("kind", "round", "attempt", "held", "unit", "name", "score", "result")
    for r in found.assessments:
        t.add_row(
            r.kind,
            r.round,
            str(r.attempt),
            r.held_on.isoformat(),
            r.unit_id,
            found.names.get(r.unit_id, ""),
            f"{r.score:.2f}" if r.scored else "—",
            "pass" if r.passed else ("FAIL" if r.scored else "not scored"),
        )
    if found.assessments:
        out.print(t)
    for k in found.kinds:
        name = ASSESSMENT_KIND_NAMES.get(k.kind, k.kind)
        out.print(
            f"{k.kind} ({name}): {k.rounds} rounds, {k.judged} judged, {k.passed} passed",
            markup=False,
        )
    out.print(f"{campaign}: {len(found.assessments)} assessments", markup=False)


@app.command("nominate")
def nominate(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    unit: str = typer.Argument(..., metavar="UNIT"),
    person: str = typer.Argument(..., metavar="PERSON"),
    reason: str = typer.Option(..., "--reason", help="事迹: why, in a sentence."),
    title: str = typer.Option("", "--title", help="职务 (printed after the unit's name)."),
) -> None:
    """The office nominates a person of one of the plan's units for 楚天杯: on the audit chain,
    and listed in the final report (exit 1 once the final evaluation is made)."""
    n, new = call(
        lambda ctx: assessments.nominate(
            ctx, actor=as_office(), campaign=campaign, person=person, unit=unit, reason=reason, title=title
        )
    )
    what = "nominated" if new else "already nominated"
    out.print(f"{campaign}: {n.person} ({n.unit_id}{n.title}) {what} for 楚天杯 on {n.nominated_on}", markup=False)

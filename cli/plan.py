"""`duban plan check|show`: plan files (实施方案) as read, and what is left to fill in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.common import err, out, program
from models.plan import Plan
from models.views import FieldToFill
from rules.obligations import expand
from services.errors import Invalid
from services.plans import load_plan, to_fill

app = typer.Typer(no_args_is_help=True, help="Check and show plan files (实施方案).")


@app.command("check")
def check(
    file: Path = typer.Argument(..., metavar="FILE"),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 while any field is left to fill in (for a live launch)."
    ),
) -> None:
    """Validate a plan file: exit 0 with a summary and what is left to fill in (FILE:LINE: what),
    or 2 with FILE:LINE: message. With --strict, exit 1 while anything is left to fill in."""
    plan = load_plan(file)
    open_fields = to_fill(file, plan)
    obs = expand(plan, plan.id)
    scope = {u.id for u in plan.units_in_scope()}  # a set: a province has 1,000 towns
    excluded = [u.name for u in plan.directory.units if u.kind.is_local and u.id not in scope]
    out.print(
        f"{file}: ok: {plan.title}: {len(plan.tasks)} tasks in {len(plan.categories)} categories, "
        f"{len(plan.phases)} phases, {len(plan.units_in_scope())} towns/farms/scenic areas in scope"
        + (f" ({'、'.join(excluded)} excluded)" if excluded else "")
        + f", {len(obs)} obligations, {plan.digest()[:19]}"
        + (f"; {len(open_fields)} fields to fill in:" if open_fields else ""),
        markup=False,
    )
    for f in open_fields:
        out.print(f"{file}:{f.line}: {f.field}: {f.what} (until filled: {f.until_filled})", markup=False)
    if strict and open_fields:
        err.print(f"{file}: {len(open_fields)} fields still to fill in: not ready for a live launch", markup=False)
        raise typer.Exit(1)


def plan_json(plan: Plan, open_fields: list[FieldToFill] | None = None) -> dict[str, Any]:
    units = plan.directory.by_id()
    cats = {c.no: c.name for c in plan.categories}
    scope = {u.id for u in plan.units_in_scope()}

    def unit(uid: str) -> dict[str, str]:
        return {"id": uid, "name": units[uid].name, "kind": units[uid].kind.value}

    return {
        "id": plan.id,
        "title": plan.title,
        "issued": plan.issued.isoformat(),
        "issuer": plan.issuer,
        "region": plan.region,
        "scope": plan.scope,
        "hash": plan.digest(),
        "joint_meeting": {
            "name": plan.joint_meeting.name,
            "convener": unit(plan.joint_meeting.convener),
            "office": unit(plan.joint_meeting.office),
        },
        "categories": [{"no": c.no, "name": c.name} for c in plan.categories],
        "tasks": [
            {
                "no": t.no,
                "name": t.name,
                "category": cats[t.category],
                "category_no": t.category,
                "lead": units[t.lead].name,
                "lead_id": t.lead,
                "responsible": [units[u].name for u in plan.expand(t.responsible)],
                "responsible_ids": list(plan.expand(t.responsible)),
                "ref": t.ref,
                "to_fill": {
                    k: f.what for k in ("lead", "responsible") if (f := plan.open_field("tasks", i, k)) is not None
                },
            }
            for i, t in enumerate(plan.tasks)
        ],
        "phases": [
            {
                "name": p.name.value,
                "title": p.title,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "milestones": [
                    {"id": m.id, "name": m.name, "due": m.due.isoformat(), "standard": m.standard} for m in p.milestones
                ],
                "duties": [{"id": d.id, "name": d.name, "due": d.due.isoformat()} for d in p.duties],
                "goal": p.goal,
            }
            for p in plan.phases
        ],
        "assessments": [{"kind": a.kind.value, "name": a.name} for a in plan.assessments],
        "units_in_scope": [unit(u.id) for u in plan.units_in_scope()],
        "excluded": [
            {**unit(u.id), "reason": "seat town (城关镇): the plan covers 建制镇（不含城关镇）"}
            for u in plan.directory.units
            if u.kind.is_local and u.id not in scope
        ],
        "obligations": len(expand(plan, plan.id)),
        "supervision": plan.supervision.model_dump() if plan.supervision else None,
        "to_fill": [f.model_dump() for f in open_fields or []],
    }


@app.command("show")
def show(
    file: Path = typer.Argument(..., metavar="FILE"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show the parsed plan: tasks, lead and responsible units, phases, units in scope."""
    plan = load_plan(file)
    data = plan_json(plan, to_fill(file, plan))
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False))
        return

    def mark(value: object, *at: str | int) -> str:
        return f"{value}（待填）" if plan.open_field(*at) else str(value)

    out.print(f"[bold]{plan.title}[/] ({plan.issuer}, {mark(plan.issued, 'issued')})")
    t = Table("no", "task", "category", "lead", "responsible")
    for task in data["tasks"]:
        agencies = [
            n
            for n, i in zip(task["responsible"], task["responsible_ids"], strict=True)
            if plan.unit(i).kind.value == "agency"
        ]
        t.add_row(
            str(task["no"]),
            task["name"],
            task["category"],
            task["lead"] + ("（待填）" if "lead" in task["to_fill"] else ""),
            "（待填）"
            if "responsible" in task["to_fill"]
            else "、".join(agencies) + f" + {len(data['units_in_scope'])} 镇场景区",
        )
    out.print(t)
    for i, p in enumerate(data["phases"]):
        ms = ", ".join(
            f"{m['name']} {mark(m['due'], 'phases', i, 'milestones', j, 'due')}" for j, m in enumerate(p["milestones"])
        )
        start, end = mark(p["start"], "phases", i, "start"), mark(p["end"], "phases", i, "end")
        out.print(
            f"{p['name']:<11} {p['title']}  {start} … {end}"
            + (f"  milestones: {ms}" if ms else "")
            + (f"  goal: {p['goal']}" if p["goal"] else "")
        )
    out.print(f"in scope: {'、'.join(u['name'] for u in data['units_in_scope']) or 'none'}")
    for u in data["excluded"]:
        out.print(f"excluded: {u['name']} ({u['reason']})")
    if data["to_fill"]:
        out.print(f"{len(data['to_fill'])} fields to fill in: `{program()} plan check {file}` lists them", markup=False)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., metavar="FILE", help="The 实施方案 as .txt or .docx, or a 任务分解表 .xlsx."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Plan YAML to write (default: FILE with .yaml)."),
    units: Path | None = typer.Option(
        None, "--units", help="Text/DOCX: the unit directory to name units by (e.g. plans/units/suixian.yaml)."
    ),
    plan: Path | None = typer.Option(None, "--plan", help="XLSX: the plan whose tasks the 任务分解表 gives."),
    units_out: Path | None = typer.Option(
        None, "--units-out", help="XLSX: also write the 单位目录 sheet to this directory file."
    ),
    contacts_out: Path | None = typer.Option(
        None, "--contacts-out", help="XLSX: also write the 联系方式 sheet to this contacts file."
    ),
    plan_id: str | None = typer.Option(
        None, "--id", help="Text/DOCX: the draft's plan id (default: from FILE's name)."
    ),
) -> None:
    """Draft a plan YAML from a 实施方案's text (every field the text does not give is written as
    {to_fill: …} at its line; `plan check` lists them), or read a 任务分解表 workbook back onto
    --plan. Exit 2 with FILE:LINE: message or the bad cells (任务分解表!C7: 未知单位 …), and no
    file written, when the input cannot be read whole."""
    if file.suffix.lower() == ".xlsx":
        from services.plan_sheets import import_xlsx

        if plan is None or output is None:
            raise Invalid(f"{file}: a 任务分解表 is read onto a plan: give --plan PLAN.yaml and -o OUT.yaml")
        import_xlsx(file, plan_path=plan, out=output, units_out=units_out, contacts_out=contacts_out)
        written = [f"{output}: plan"] + [
            f"{p}: {w}" for p, w in ((units_out, "units"), (contacts_out, "contacts")) if p
        ]
        out.print(f"read from {file}: " + "; ".join(written), markup=False)
        return
    from services.plan_import import import_plan_text

    out_path = output or file.with_suffix(".yaml")
    _, open_count = import_plan_text(file, directory=units, out=out_path, plan_id=plan_id)
    out.print(f"{out_path}: draft written from {file}; {open_count} fields to fill in", markup=False)
    if units is not None and not units.resolve().is_relative_to(out_path.resolve().parent):
        # The loader reads a plan's directory only from inside the plan's folder (a plan cannot
        # make duban read an arbitrary file): say so now rather than at `plan check`.
        err.print(
            f"{out_path}: note: {units} is outside the draft's folder, where `plan check` reads a "
            "plan's directory from: write the draft into a folder that holds it (e.g. -o plans/NAME.yaml)",
            markup=False,
        )


@app.command("export")
def export(
    file: Path = typer.Argument(..., metavar="FILE"),
    xlsx: Path = typer.Option(..., "--xlsx", help="Workbook to write: 任务分解表 and 单位目录 sheets."),
    contacts: Path | None = typer.Option(None, "--contacts", help="Also a 联系方式 sheet from this contacts file."),
) -> None:
    """Write the plan's 任务分解表 (task × lead × responsible × due) and its unit directory as an
    Excel workbook; `plan import BOOK.xlsx --plan FILE -o OUT` reads it back."""
    from services.plan_sheets import export_xlsx

    tasks, units = export_xlsx(file, xlsx, contacts=contacts)
    out.print(f"{xlsx}: {tasks} tasks, {units} units", markup=False)

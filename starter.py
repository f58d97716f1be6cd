"""The `duban` command: load plans, rehearse and launch campaigns, act on obligations, audit.

Exit codes: 0 ok; 1 a check failed or a thing was not found; 2 bad input (with FILE:LINE:
message for files); never a traceback for anything a user can get wrong.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from activities.config import ROOT, Settings, get_settings
from models.assessment import ScoreBook
from models.calendar import CalendarData
from models.delivery import DeliveryStatus, delivery_id
from models.obligation import workflow_id_of
from models.payloads import (
    Acknowledge,
    CampaignContext,
    CampaignInput,
    CampaignResult,
    Complete,
    ObligationView,
    ReportProgress,
    SimulationInput,
)
from models.plan import Plan
from models.rectification import (
    OrderState,
    RectificationView,
    ReportRectification,
    ReviewRectification,
    campaign_of,
    rectification_workflow_id,
)
from models.ruleset import RuleSet
from models.time import CST, Clock, at
from rules import calendar as cal
from rules.loading import (
    SourceError,
    directory_reference,
    open_field_lines,
    parse_directory,
    parse_plan,
    parse_ruleset,
    parse_yaml,
)
from rules.obligations import expand

T = TypeVar("T")
# Piped output is read by scripts and people alike: do not cut tables at 80 columns.
# No emoji codes: "FILE:100: …" must not print as "FILE💯 …".
out = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

DEFAULT_PLAN = ROOT / "plans" / "suixian-2021.yaml"
SHEETS_DIR = ROOT / "plans" / "scoresheets"
RULESETS = ROOT / "rules" / "rulesets"
DEFAULT_RULES = RULESETS / "suixian-default.yaml"


def default_rules(plan: Plan) -> Path:
    """A plan's shipped rule set (`rules/rulesets/<place>-default.yaml`, e.g. changhe-default
    for changhe-2021), else the 随县 one."""
    own = RULESETS / f"{plan.id.split('-')[0]}-default.yaml"
    return own if own.is_file() else DEFAULT_RULES


class UserError(Exception):
    """Something the user can fix; printed as is, with its exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="督办 duban: runs a government campaign plan from launch to final evaluation.",
)
plan_app = typer.Typer(no_args_is_help=True, help="Check and show plan files (实施方案).")
calendar_app = typer.Typer(no_args_is_help=True, help="China's official working days (调休 included).")
audit_app = typer.Typer(no_args_is_help=True, help="For auditors: verify and explain the record.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(plan_app, name="plan")
app.add_typer(calendar_app, name="calendar")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
rules_app = typer.Typer(
    no_args_is_help=True, help="Rule sets (催办/督办 rules): check, test, explain, what-if, install."
)
app.add_typer(rules_app, name="rules")


# -- reading files ----------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise SourceError(str(path), 1, "not UTF-8 text") from None


def load_plan(path: Path) -> Plan:
    text = _read(path)
    ref, line = directory_reference(text, path=str(path))
    dpath = path.parent / ref
    if not dpath.is_file():
        raise SourceError(str(path), line, f"unit directory {ref!r} not found (looked for {dpath})")
    directory = parse_directory(_read(dpath), path=str(dpath))
    return parse_plan(text, path=str(path), directory=directory)


def to_fill(path: Path, plan: Plan) -> list[dict[str, Any]]:
    """The plan's fields left to fill in, in file order: line, field, what, fallback."""
    units = plan.directory.by_id()
    found = []
    for line, f in open_field_lines(plan, _read(path) if plan.open_fields else "", path=str(path)):
        if f.fallback in units:
            shown = f"{units[f.fallback].name} ({f.fallback})"
        else:
            shown = f"{f.fallback}, {f.because}" if f.fallback else f.because
        found.append(
            {
                "line": line,
                "field": f.field,
                "what": f.what,
                "fallback": f.fallback,
                "until_filled": shown,
                "because": f.because,
            }
        )
    return found


def warn_open(path: Path, plan: Plan) -> None:
    """Before running a plan with fields left to fill in: say so, once."""
    if plan.open_fields:
        err.print(
            f"[yellow]warning:[/] {path}: {len(plan.open_fields)} fields still to fill in, running on their "
            f"fallbacks (`{program()} plan check {path}` lists them)"
        )


def load_ruleset(path: Path, plan: Plan | None = None) -> RuleSet:
    return parse_ruleset(_read(path), path=str(path), plan=plan)


def load_calendar(settings: Settings, years: range) -> tuple[CalendarData, list[int]]:
    """Calendar data for the years, and the years no source knows (to warn about)."""
    file_years: dict[int, Any] = {}
    path = settings.calendar_file
    if path.is_file():
        data, _ = parse_yaml(_read(path), path=str(path))
        try:
            file_years = cal.parse_calendar_file(data, path=str(path))
        except ValueError as e:
            raise UserError(str(e)) from None
    data = cal.build(years, file_years)
    return data, [y for y in years if y not in data.known_years]


def warn_missing(years: list[int], settings: Settings) -> None:
    """One warning naming the years no calendar source knows (a run of years as a range)."""
    if not years:
        return
    known = sorted(cal.package_years())
    span = str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"
    if len(years) > 1 and years[-1] - years[0] + 1 != len(years):
        span = ", ".join(str(y) for y in years)
    err.print(
        f"[yellow]warning:[/] no official holiday calendar for {span} (chinesecalendar knows "
        f"{known[0]}–{known[-1]}; add years to {settings.calendar_file}); counting Monday–Friday "
        f"as working days in {span}."
    )


# -- plan ------------------------------------------------------------------------------------------


@plan_app.command("check")
def plan_check(
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
    excluded = [u.name for u in plan.directory.units if u.kind.is_local and u not in plan.units_in_scope()]
    out.print(
        f"{file}: ok: {plan.title}: {len(plan.tasks)} tasks in {len(plan.categories)} categories, "
        f"{len(plan.phases)} phases, {len(plan.units_in_scope())} towns/farms/scenic areas in scope"
        + (f" ({'、'.join(excluded)} excluded)" if excluded else "")
        + f", {len(obs)} obligations, {plan.digest()[:19]}"
        + (f"; {len(open_fields)} fields to fill in:" if open_fields else ""),
        markup=False,
    )
    for f in open_fields:
        out.print(f"{file}:{f['line']}: {f['field']}: {f['what']} (until filled: {f['until_filled']})", markup=False)
    if strict and open_fields:
        err.print(f"{file}: {len(open_fields)} fields still to fill in: not ready for a live launch", markup=False)
        raise typer.Exit(1)


def plan_json(plan: Plan, open_fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    units = plan.directory.by_id()
    cats = {c.no: c.name for c in plan.categories}

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
            if u.kind.is_local and u not in plan.units_in_scope()
        ],
        "obligations": len(expand(plan, plan.id)),
        "supervision": plan.supervision.model_dump() if plan.supervision else None,
        "to_fill": open_fields if open_fields is not None else [],
    }


@plan_app.command("show")
def plan_show(
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


# -- calendar ----------------------------------------------------------------------------------------


def _date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise UserError(f"{s!r} is not a date (YYYY-MM-DD)") from None


@calendar_app.command("shift", context_settings={"ignore_unknown_options": True})
def calendar_shift(day: str = typer.Argument(..., metavar="DATE"), n: int = typer.Argument(..., metavar="N")) -> None:
    """Print the date N official working days after DATE (before it, if N < 0)."""
    d = _date(day)
    settings = get_settings()
    span = abs(n) // 200 + 2
    data, _ = load_calendar(settings, range(max(1, d.year - span), d.year + span + 1))
    wc = cal.WorkCalendar(data)
    try:
        result = wc.shift(d, n)
    except OverflowError:
        raise UserError(f"{n} working days from {d} is outside the calendar (years 1 to 9999)") from None
    lo, hi = min(d, result), max(d, result)
    warn_missing(wc.missing_years(lo, hi), settings)
    out.print(result.isoformat())


@calendar_app.command("show")
def calendar_show(year: int = typer.Argument(..., min=1900, max=2100, metavar="YEAR")) -> None:
    """List a year's official holidays and make-up workdays (调休)."""
    settings = get_settings()
    data, missing = load_calendar(settings, range(year, year + 1))
    warn_missing(missing, settings)
    if not data.years:
        # The warning above (stderr) says why; stdout still answers the question asked.
        out.print(f"{year} (source: none): no holidays or make-up workdays known; Monday–Friday are working days")
    for y in data.years:
        out.print(f"{y.year} (source: {y.source})")
        for d in sorted({*y.holidays, *y.workdays}):
            kind = "make-up workday 调休上班" if d in y.workdays else "holiday 放假"
            out.print(f"  {d.isoformat()} {'一二三四五六日'[d.weekday()]} {kind}")


def scorebook_for(plan: Plan, path: Path | None) -> ScoreBook | None:
    """The score sheets a campaign of the plan is assessed on: the file given, else the file in
    plans/scoresheets/ written for the plan (its `plan:` is the plan's id), else none (milestones
    are then judged on the obligations alone)."""
    import re

    from rules.scoresheets import parse_scorebook

    if path is not None:
        return parse_scorebook(_read(path), path=str(path), plan=plan)
    for f in sorted(SHEETS_DIR.glob("*.yaml")):
        text = _read(f)
        m = re.search(r"^plan:\s*([\w-]+)\s*(?:#.*)?$", text, re.MULTILINE)
        if m and m[1] == plan.id:
            return parse_scorebook(text, path=str(f), plan=plan)
    return None


# -- running things ---------------------------------------------------------------------------------


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class Launch:
    input: CampaignInput
    plan: Plan
    missing_years: list[int]


def prepare(
    plan: Plan,
    rules_file: Path,
    *,
    campaign_id: str,
    server_now: datetime,
    live: bool,
    speed: int = 1,
    plan_from: date | None = None,
    scorebook: ScoreBook | None = None,
    push: bool = False,
) -> Launch:
    """Everything a campaign pins at launch: plan, rule set, calendar, score sheets, and its clock.

    The clock starts at the plan's issue date (or `plan_from`) unless a live plan starts in
    the future; `speed` runs plan time faster than the server's, for drills on a real server.
    With `push`, the campaign runs a dispatch loop for its e-mail and webhook pushes.
    """
    settings = get_settings()
    ruleset = load_ruleset(rules_file, plan)
    years = range(plan.start.year, plan.end.year + 2)  # escalations run past the last phase
    data, missing = load_calendar(settings, years)
    launched = at(plan_from or plan.issued, ruleset.time_of_day)
    if live and launched > server_now and speed == 1:
        clock = Clock()
    else:
        clock = Clock.rehearse(plan_start=launched, server_now=server_now, speed=speed)
    ctx = CampaignContext(
        campaign_id=campaign_id,
        plan_id=plan.id,
        plan_hash=plan.digest(),
        ruleset=ruleset,
        ruleset_hash=ruleset.digest(),
        calendar=data,
        calendar_hash=data.digest(),
        clock=clock,
        notice_prefix=plan.notice_prefix,
        office=plan.joint_meeting.office,
        convener=plan.joint_meeting.convener,
        ends=plan.end,
        milestones={m.id: m.due for p in plan.phases for m in p.milestones},
        push=push,
    )
    return Launch(
        input=CampaignInput(
            context=ctx, plan=plan, launched_plan_time=clock.plan_time(server_now), scorebook=scorebook
        ),
        plan=plan,
        missing_years=missing,
    )


@app.command()
def demo(
    plan_file: Path = typer.Option(DEFAULT_PLAN, "--plan", help="The plan to rehearse."),
    out_dir: Path = typer.Option(Path("out/demo"), "--out", help="Where summary.json and audit.jsonl go."),
    seed: int = typer.Option(7, "--seed", help="Simulated agencies' behaviour; same seed, same counts."),
    rules_file: Path | None = typer.Option(None, "--rules", help="The rule set (default: the plan's own)."),
    silent: int = typer.Option(1, "--silent", help="How many towns never answer at all."),
    sheets: Path | None = typer.Option(
        None, "--sheets", help="Score sheets (default: the plans/scoresheets/ file for the plan, if any)."
    ),
) -> None:
    """Rehearse a whole campaign, launch to final evaluation, on the time-skipping server."""
    plan = load_plan(plan_file)  # fail fast on a bad plan, before any server starts
    warn_open(plan_file, plan)
    book = scorebook_for(plan, sheets)
    rules = rules_file or default_rules(plan)
    summary, trail, histories = run(rehearse(plan, rules, seed=seed, silent=silent, scorebook=book))
    write_outputs(out_dir, summary, trail, histories)
    print_summary(summary)
    out.print(f"wrote {out_dir / 'summary.json'}, {out_dir / 'audit.jsonl'} and {len(histories)} histories")
    out.print(
        f"verify it: {program()} audit verify {summary['campaign_id']} --histories {out_dir / 'histories'}",
        markup=False,
    )


def program() -> str:
    """How the user called us (e.g. .venv/bin/duban), for commands we suggest they run next."""
    name = Path(sys.argv[0])
    return str(name) if name.name == "duban" and name.parent != Path(".") else "duban"


def print_summary(summary: dict[str, Any]) -> None:
    from activities.campaign import COUNTS

    t = Table(title=f"{summary['campaign_id']} (seed {summary['seed']})", show_header=True)
    t.add_column("what")
    t.add_column("count", justify="right")
    for k in COUNTS:
        t.add_row(k, str(summary[k]))
    eng = summary["engine"]
    for k in ("workflows", "activities", "history_events", "continued_as_new"):
        t.add_row(f"engine: {k}", str(eng[k]))
    t.add_row("wall time", f"{eng['wall_seconds']:.1f} s")
    out.print(t)


TEST_SERVER_LIFETIME = timedelta(days=3650)
"""The time-skipping test server ends every workflow after at most 10 years of its time (longer
timeouts are clamped), and a campaign workflow lives from launch to the plan's end."""


def rehearsal_speed(plan: Plan) -> int:
    """Plan seconds per server second for a rehearsal: 1, unless the campaign (with a month for
    the last escalations) outlives the test server's limit, as 长河镇's 2021–2030 plan does;
    then plan time runs faster. Rules reason in plan time, so what happens is the same."""
    span = plan.end - plan.start + timedelta(days=31)
    return max(1, -(-span // TEST_SERVER_LIFETIME))


async def rehearse(
    plan: Plan,
    rules_file: Path,
    *,
    seed: int,
    silent: int,
    scorebook: ScoreBook | None = None,
    misses: dict[str, list[str]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """Run a whole campaign on the time-skipping server with simulated agencies."""
    from sqlalchemy import select
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities import history, servers
    from activities.campaign import campaign_counts
    from activities.store.db import make_engine, upgrade
    from activities.store.tables import audit_events
    from worker import build_worker
    from workflows import CampaignWorkflow, SimulationWorkflow

    settings = get_settings()
    started = time.monotonic()
    with err.status("starting embedded PostgreSQL and the time-skipping Temporal server…"):
        url = await servers.app_database(settings)
        await upgrade(url)
        engine = make_engine(url)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=servers.test_server_path(),
            data_converter=pydantic_data_converter,
            runtime=quiet_runtime(),
        )
    try:
        server_now = await env.get_current_time()
        cid = f"{plan.id}-rehearsal-s{seed}-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"
        speed = rehearsal_speed(plan)
        lp = prepare(
            plan, rules_file, campaign_id=cid, server_now=server_now, live=False, speed=speed, scorebook=scorebook
        )
        warn_missing(lp.missing_years, settings)
        ctx = lp.input.context
        queue = f"rehearsal-{uuid.uuid4()}"
        async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
            handle = await env.client.start_workflow(CampaignWorkflow.run, lp.input, id=cid, task_queue=queue)
            sim = await env.client.start_workflow(
                SimulationWorkflow.run,
                SimulationInput(
                    context=ctx,
                    plan=plan,
                    seed=seed,
                    never_answering=silent,
                    scorebook=scorebook,
                    misses=misses or {},
                ),
                id=f"{cid}/simulation",
                task_queue=queue,
            )
            start = at(plan.start, "00:00")
            span = (at(plan.end, "23:59") - start).total_seconds()
            result_task = asyncio.ensure_future(handle.result())
            with Progress(
                TextColumn("[bold]rehearsing[/] {task.fields[day]}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as bar:
                task = bar.add_task("campaign", total=span, day=plan.start.isoformat())
                while not result_task.done():
                    await asyncio.wait([result_task], timeout=0.5)
                    if result_task.done():
                        break
                    try:
                        now = (await handle.query(CampaignWorkflow.now)).plan_time
                    except Exception:
                        continue
                    bar.update(task, completed=(now - start).total_seconds(), day=now.date().isoformat())
                bar.update(task, completed=span, day=plan.end.isoformat())
            result: CampaignResult = await result_task
            sim_cost = await sim.result()
            # The time-skipping server forgets everything when it stops: keep the histories, so
            # `duban audit verify CID --histories DIR/histories` can replay and cross-check them.
            histories = await history.collect(env.client, [cid, f"{cid}/simulation"])
        async with engine.connect() as conn:
            counts = await campaign_counts(conn, cid)
            trail = (
                (
                    await conn.execute(
                        select(audit_events).where(audit_events.c.campaign_id == cid).order_by(audit_events.c.seq)
                    )
                )
                .mappings()
                .all()
            )
    finally:
        await env.shutdown()
        await engine.dispose()
    cost = result.cost.add(sim_cost)
    summary: dict[str, Any] = {
        "campaign_id": cid,
        "plan": plan.id,
        "plan_hash": ctx.plan_hash,
        "ruleset": f"{ctx.ruleset.id} v{ctx.ruleset.version}",
        "ruleset_hash": ctx.ruleset_hash,
        "scorebook_hash": scorebook.digest() if scorebook else None,
        "seed": seed,
        "silent_units": silent,
        **counts,
        "engine": {**cost.model_dump(), "wall_seconds": round(time.monotonic() - started, 2)},
        "campaign_engine": result.cost.model_dump(),
        "simulation_engine": sim_cost.model_dump(),
    }
    summary["histories"] = len(histories)
    return summary, [audit_line(r) for r in trail], histories


def write_outputs(out_dir: Path, summary: dict[str, Any], trail: list[dict[str, Any]], histories: list[Any]) -> None:
    from activities import history

    out_dir.mkdir(parents=True, exist_ok=True)
    history.save(histories, out_dir / "histories")
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    with (out_dir / "audit.jsonl").open("w", encoding="utf-8") as f:
        for line in trail:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def quiet_runtime() -> Any:
    """A Temporal runtime that logs only errors: the test server lacks capabilities the SDK
    warns about on every start, which says nothing to a user rehearsing a campaign."""
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    filt = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=filt)))


def audit_line(r: Any) -> dict[str, Any]:
    """One audit row as a JSON line: plan date and server time, what, whom, which rule."""
    from activities.store.audit import payload_of

    return {
        "seq": r["seq"],
        "kind": r["kind"],
        "plan_date": r["plan_time"].astimezone(at(date(2000, 1, 1)).tzinfo).date().isoformat(),
        "plan_time": r["plan_time"].astimezone(at(date(2000, 1, 1)).tzinfo).isoformat(),
        "server_time": r["server_time"].astimezone(UTC).isoformat(),
        "obligation": r["obligation_id"],
        "unit": r["unit_id"],
        "rule": r["rule_id"],
        "actor": r["actor"],
        "payload": payload_of(r),
        "hash": r["hash"],
    }


@app.command()
def worker() -> None:
    """Run a worker against the configured Temporal and PostgreSQL (embedded by default)."""
    import worker as w

    run(w.run())


@app.command()
def up() -> None:
    """Start the embedded PostgreSQL and Temporal dev server, migrate, and run a worker."""
    from activities import servers

    settings = get_settings()
    from activities.store.db import upgrade

    url = run(servers.app_database(settings))
    run(upgrade(url))
    out.print(f"PostgreSQL: {url}")
    address = settings.temporal_address or f"localhost:{settings.temporal_port}"
    out.print(f"Temporal: {address} (task queue {settings.task_queue})")
    out.print("worker running; Ctrl-C to stop")
    worker()


@app.command()
def launch(
    plan_file: Path = typer.Argument(..., metavar="FILE"),
    rules_file: Path | None = typer.Option(None, "--rules", help="The rule set (default: the plan's own)."),
    campaign_id: str | None = typer.Option(None, "--id", help="Campaign id (default: PLAN-YYYYMMDDHHMM)."),
    speed: int = typer.Option(1, "--speed", min=1, help="Plan seconds per server second (86400: a day a second)."),
    plan_from: str | None = typer.Option(None, "--from", help="Plan date the clock starts at (default: issue date)."),
    sheets: Path | None = typer.Option(
        None, "--sheets", help="Score sheets (default: the plans/scoresheets/ file for the plan, if any)."
    ),
) -> None:
    """Launch a campaign on the configured Temporal (run `duban up` first)."""
    from activities import servers
    from workflows import CampaignWorkflow

    settings = get_settings()
    now = datetime.now(UTC)
    plan = load_plan(plan_file)
    warn_open(plan_file, plan)
    cid = campaign_id or f"{plan.id}-{now:%Y%m%d%H%M}"
    lp = prepare(
        plan,
        rules_file or default_rules(plan),
        campaign_id=cid,
        server_now=now,
        live=True,
        speed=speed,
        plan_from=_date(plan_from) if plan_from else None,
        scorebook=scorebook_for(plan, sheets),
        # Workers built with these settings queue pushes when the contacts file exists (worker.run):
        # the campaign then runs its dispatch loop to send them.
        push=settings.contacts_file.is_file(),
    )
    warn_missing(lp.missing_years, settings)

    async def go() -> None:
        from temporalio.exceptions import WorkflowAlreadyStartedError

        client = await servers.connect(settings)
        try:
            await client.start_workflow(CampaignWorkflow.run, lp.input, id=cid, task_queue=settings.task_queue)
        except WorkflowAlreadyStartedError:
            raise UserError(f"campaign {cid} is already running: choose another --id", code=1) from None

    run(go())
    clock = lp.input.context.clock
    out.print(f"launched {cid}: plan time now {clock.plan_time(now):%Y-%m-%d %H:%M}, {clock.speed}× server time")
    book = lp.input.scorebook
    if book is None:
        err.print("no score sheets for this plan (--sheets): milestones are judged on obligations alone")
    else:
        out.print(f"score sheets: {', '.join(s.id for s in book.sheets)} ({book.digest()[:19]})", markup=False)
    if lp.input.context.push:
        out.print(f"e-mail and webhook pushes: sent by {cid}/dispatch, to the contacts in {settings.contacts_file}")


async def _db() -> Any:
    from activities import servers
    from activities.store.db import make_engine, upgrade

    url = await servers.app_database(get_settings())
    await upgrade(url)
    return make_engine(url)


@app.command()
def status(campaign: str) -> None:
    """A campaign's counts from the read side."""
    from sqlalchemy import select

    from activities.campaign import campaign_counts
    from activities.store.tables import campaigns

    async def go() -> dict[str, Any]:
        engine = await _db()
        async with engine.connect() as conn:
            row = (await conn.execute(select(campaigns).where(campaigns.c.id == campaign))).first()
            if row is None:
                raise UserError(f"no campaign {campaign!r}", code=1)
            counts = await campaign_counts(conn, campaign)
        await engine.dispose()
        return {"campaign": campaign, "status": row.status, "plan": row.plan_title, **counts}

    data = run(go())
    for k, v in data.items():
        out.print(f"{k:<22}{v}")


def _update(verb: str, obligation: str, unit: str, arg: Any) -> None:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from activities import servers

    try:
        wf = workflow_id_of(obligation)
    except ValueError as e:
        raise UserError(str(e)) from None

    async def go() -> ObligationView:
        client = await servers.connect(get_settings())
        try:
            view: ObligationView = await client.get_workflow_handle(wf).execute_update(
                verb, arg, result_type=ObligationView
            )
        except WorkflowUpdateFailedError as e:
            raise UserError(f"refused: {getattr(e.cause, 'message', e)}", code=1) from None
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            if (when := await _closed(obligation.split("/", 1)[0])) is not None:
                raise UserError(closed_message(obligation.split("/", 1)[0], when), code=1) from None
            raise UserError(
                f"no open workflow holds {obligation}: the campaign is not launched, its phase has not started"
                " or has finished, or the unit has no obligations in it",
                code=1,
            ) from None
        return view

    v = run(go())
    notes = [f"due {v.extended_due} (extended)"] if v.extended_due else []
    notes += [f"延期申请 to {v.pending_extension} waiting for the office"] if v.pending_extension else []
    notes += [f"evaluation: {v.evaluation}"] if v.evaluation else []
    out.print(f"{v.id}: {v.state.value} {v.progress}%" + "".join(f"; {n}" for n in notes))


@app.command()
def ack(obligation: str, unit: str = typer.Option(..., "--unit", help="The acting unit's id.")) -> None:
    """签收: acknowledge an obligation."""
    _update("acknowledge", obligation, unit, Acknowledge(obligation_id=obligation, unit_id=unit))


def _evidence(files: list[Path]) -> list[Any]:
    """Store evidence files by their SHA-256 (once, whatever the Update's fate) and return the
    references the Update carries. The rule set's limits on size and type are the workflow's to
    enforce, so that a refused attempt is on the record; nothing here is kept from it."""
    import hashlib
    import mimetypes

    from sqlalchemy.dialects.postgresql import insert

    from activities.store.tables import evidence_files
    from models.payloads import Evidence

    refs, rows = [], []
    for f in files:
        if not f.is_file():
            raise UserError(f"{f}: no such file")
        data = f.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        media = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        refs.append(Evidence(name=f.name, sha256=digest, size=len(data), media_type=media))
        if len(data) <= EVIDENCE_STORE_LIMIT:
            rows.append({"sha256": digest, "size": len(data), "media_type": media, "name": f.name, "content": data})
    if rows:

        async def go() -> None:
            engine = await _db()
            async with engine.begin() as conn:
                await conn.execute(insert(evidence_files).values(rows).on_conflict_do_nothing())
            await engine.dispose()

        run(go())
    return refs


EVIDENCE_STORE_LIMIT = 200 * 1024 * 1024
"""Files above this are not even stored: the rule set's own limit (20 MB by default) refuses them."""


@app.command()
def report(
    obligation: str,
    percent: int = typer.Option(..., "--percent", min=0, max=100),
    text: str = typer.Option("", "--text"),
    unit: str = typer.Option(..., "--unit"),
    evidence: list[Path] = typer.Option([], "--evidence", help="A file to attach (佐证材料); repeatable."),
) -> None:
    """进展上报: report progress on an obligation, with evidence files."""
    refs = _evidence(evidence)
    _update(
        "report_progress",
        obligation,
        unit,
        ReportProgress(obligation_id=obligation, unit_id=unit, percent=percent, text=text, evidence=refs),
    )


@app.command()
def complete(
    obligation: str,
    text: str = typer.Option("", "--text"),
    unit: str = typer.Option(..., "--unit"),
    evidence: list[Path] = typer.Option([], "--evidence", help="A file to attach (佐证材料); repeatable."),
) -> None:
    """办结: complete an obligation, with evidence files."""
    refs = _evidence(evidence)
    _update("complete", obligation, unit, Complete(obligation_id=obligation, unit_id=unit, text=text, evidence=refs))


@app.command()
def extend(
    obligation: str,
    to: str = typer.Option(..., "--to", help="The due date asked for (YYYY-MM-DD)."),
    reason: str = typer.Option(..., "--reason", help="Why (延期理由)."),
    unit: str = typer.Option(..., "--unit"),
) -> None:
    """延期申请: ask the office for a later due date."""
    from models.payloads import RequestExtension

    req = RequestExtension(obligation_id=obligation, unit_id=unit, due=_date(to), text=reason)
    _update("request_extension", obligation, unit, req)


@app.command()
def extension(
    obligation: str,
    approve: bool = typer.Option(..., "--approve/--refuse", help="The office's decision."),
    reason: str = typer.Option("", "--reason"),
    unit: str = typer.Option(..., "--unit", help="The office's unit id."),
) -> None:
    """The office decides a pending 延期申请: approved, the deadline and every later reminder and
    escalation move; refused, nothing moves."""
    from models.payloads import DecideExtension

    _update(
        "decide_extension",
        obligation,
        unit,
        DecideExtension(obligation_id=obligation, unit_id=unit, approve=approve, text=reason),
    )


@app.command()
def evaluate(
    obligation: str,
    accept: bool = typer.Option(..., "--accept/--return", help="Accept the work, or return it (reopens it)."),
    reason: str = typer.Option("", "--reason"),
    unit: str = typer.Option(..., "--unit", help="The office's unit id."),
) -> None:
    """评价: the office accepts completed work, or returns it with reasons."""
    from models.payloads import Evaluate

    if not accept and not reason.strip():
        raise UserError("returning work needs --reason (the unit is told why)")
    _update("evaluate", obligation, unit, Evaluate(obligation_id=obligation, unit_id=unit, accept=accept, text=reason))


@app.command()
def inbox(
    unit: str,
    campaign: str | None = typer.Option(None, "--campaign"),
    limit: int = typer.Option(50, "--limit", min=1, help="Show the newest N messages."),
) -> None:
    """A unit's in-app inbox: reminders, escalations, notices, orders (the newest, oldest first)."""
    from sqlalchemy import func, select

    from activities.store.tables import inbox as inbox_t

    async def go() -> tuple[list[Any], int]:
        engine = await _db()
        where = [inbox_t.c.recipient == unit]
        if campaign:
            where.append(inbox_t.c.campaign_id == campaign)
        newest = select(inbox_t).where(*where).order_by(inbox_t.c.plan_time.desc(), inbox_t.c.id.desc()).limit(limit)
        async with engine.connect() as conn:
            rows = (await conn.execute(newest)).all()
            total = (await conn.execute(select(func.count()).select_from(inbox_t).where(*where))).scalar_one()
        await engine.dispose()
        return rows[::-1], total

    rows, total = run(go())
    for r in rows:
        out.print(f"{r.plan_time.astimezone(CST):%Y-%m-%d %H:%M}  {r.kind:<13} {r.title}", markup=False)
    scope = f" in {campaign}" if campaign else ""
    if not rows:
        out.print(f"{unit}: nothing in the inbox{scope}", markup=False)
    elif total > len(rows):
        out.print(f"{unit}: the newest {len(rows)} of {total} messages{scope} (--limit for more)", markup=False)
    else:
        out.print(f"{unit}: {total} messages{scope}", markup=False)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def delivery_json(r: dict[str, Any]) -> dict[str, Any]:
    """One ledger row as `duban deliveries --json` prints it."""
    offset = r["server_time"] - r["plan_time"]
    return {
        "key": r["idempotency_key"],
        "message_id": delivery_id(r["idempotency_key"]),
        "recipient": r["recipient"],
        "channel": r["channel"],
        "address": r["address"],
        "subject": r["subject"],
        "status": r["status"],
        "attempts": r["attempts"],
        "not_before": _iso(r["not_before"]),
        "not_before_plan_time": _iso(r["not_before"] - offset),
        "plan_time": _iso(r["plan_time"]),
        "sent_at": _iso(r["sent_at"]),
        "last_error": r["last_error"],
        "attachments": [
            {"filename": f["filename"], "sha256": f["sha256"], "size": f["size"], "content_type": f["content_type"]}
            for f in r["attachment_rows"]
        ],
        "attempt_log": [
            {
                "attempt": a["attempt"],
                "started_at": _iso(a["started_at"]),
                "finished_at": _iso(a["finished_at"]),
                "outcome": a["outcome"],
                "error": a["error"],
            }
            for a in r["attempt_rows"]
        ],
    }


@app.command()
def deliveries(
    campaign: str,
    status: DeliveryStatus | None = typer.Option(
        None, "--status", case_sensitive=False, help="Only rows in this state (failed, uncertain, pending, …)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The delivery ledger: each e-mail and webhook push of a campaign, its state and attempts.

    `uncertain` rows were claimed by an attempt that died before recording its outcome: they may
    have arrived and are never re-sent automatically; check with the receiver by message id."""
    from sqlalchemy import select

    from activities.store import deliveries as ledger
    from activities.store.tables import campaigns

    async def go() -> tuple[list[dict[str, Any]], dict[tuple[str, str], int]]:
        engine = await _db()
        try:
            async with engine.connect() as conn:
                if (await conn.scalar(select(campaigns.c.id).where(campaigns.c.id == campaign))) is None:
                    raise UserError(f"no campaign {campaign!r}", code=1)
                return await ledger.ledger(conn, campaign, status), await ledger.counts(conn, campaign)
        finally:
            await engine.dispose()

    rows, counts = run(go())
    by_channel: dict[str, dict[str, int]] = {}
    for (channel, state), n in sorted(counts.items()):
        by_channel.setdefault(channel, {})[state] = n
    if as_json:
        data = {"campaign": campaign, "counts": by_channel, "deliveries": [delivery_json(r) for r in rows]}
        out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False)
        return
    t = Table("not before (plan)", "recipient", "channel", "address", "status", "tries", "message id", "last error")
    for r in rows:
        d = delivery_json(r)
        t.add_row(
            f"{(r['not_before'] - r['server_time'] + r['plan_time']).astimezone(CST):%Y-%m-%d %H:%M}",
            d["recipient"],
            d["channel"],
            d["address"],
            d["status"],
            str(d["attempts"]),
            d["message_id"],
            (d["last_error"] or "")[:80],
        )
    if rows:
        out.print(t)
    total = ", ".join(
        f"{ch}: " + " ".join(f"{n} {st}" for st, n in states.items()) for ch, states in by_channel.items()
    )
    shown = f"{len(rows)} {status.value}" if status else f"{len(rows)}"
    out.print(f"{campaign}: {shown} deliveries shown; ledger {total or 'empty'}", markup=False)
    if any(st == DeliveryStatus.uncertain.value for _, st in counts):
        err.print(
            "uncertain deliveries may or may not have arrived and are not re-sent: check with the receiver "
            "by message id (see --status uncertain)",
            markup=False,
        )


# -- papers: 督办通知 and 通报 as issued ----------------------------------------------------------------

SEVERITY_LABELS = {"blue": "蓝", "yellow": "黄", "red": "红"}
COLOUR_LABELS = {"green": "绿", "yellow": "黄", "red": "红"}


async def _papers(read: Any) -> Any:
    """Run `read(conn)` on the configured database; the papers' errors become exit codes."""
    from activities.paperwork import ChecksumMismatch, PaperNotFound

    engine = await _db()
    try:
        async with engine.connect() as conn:
            return await read(conn)
    except PaperNotFound as e:
        raise UserError(str(e), code=2) from None
    except ChecksumMismatch as e:
        raise UserError(f"refusing to write a file that does not match its record: {e}", code=1) from None
    finally:
        await engine.dispose()


def _write_files(what: str, files: dict[str, Any], wanted: dict[str, Path | None]) -> list[str]:
    """Write the stored files asked for (already checked against their SHA-256); lines to print."""
    lines = []
    for fmt, path in wanted.items():
        if path is None:
            continue
        f = files.get(fmt)
        if f is None:
            raise UserError(f"{what}: no {fmt.upper()} file is stored", code=1)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f.content)
        except OSError as e:
            raise UserError(f"{path}: cannot write: {e.strerror or e}") from None
        lines.append(f"wrote {path} ({len(f.content):,} bytes, sha256 {f.sha256})")
    return lines


@app.command("notices")
def notices_cmd(
    campaign: str,
    unit: str | None = typer.Option(None, "--unit", help="Only the notices to this unit (its id)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A campaign's 督办通知: number, date, unit, severity (三色督办), obligation, escalation level."""
    from activities.paperwork import CampaignPapers, notices_of

    async def read(conn: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
        rows = await notices_of(conn, campaign, unit)
        names = (await CampaignPapers().facts(conn, campaign)).names
        if unit is not None and unit not in names:
            raise UserError(f"no unit {unit!r} in campaign {campaign!r}")
        return rows, names

    rows, names = run(_papers(read))
    for r in rows:
        r["unit_name"] = names.get(r["unit"], r["unit"])
    if as_json:
        out.print(json.dumps({"campaign": campaign, "notices": rows}, ensure_ascii=False, indent=2), markup=False)
        return
    t = Table("code", "date", "unit", "severity", "obligation", "level")
    for r in rows:
        colour = r["severity"] or ""
        t.add_row(
            r["code"],
            r["date"],
            f"{r['unit_name']} ({r['unit']})",
            f"{colour} {SEVERITY_LABELS.get(colour, '')}".strip(),
            r["obligation"],
            str(r["level"]),
        )
    if rows:
        out.print(t)
    out.print(f"{campaign}: {len(rows)} notices" + (f" to {unit}" if unit else ""), markup=False)


@app.command("notice")
def notice_cmd(
    code: str,
    campaign: str | None = typer.Option(None, "--campaign", help="The campaign, when several number alike."),
    docx: Path | None = typer.Option(None, "--docx", help="Write the stored DOCX here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the stored PDF here."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """One 督办通知 as issued; with --docx/--pdf, write its stored files (checked against the SHA-256
    recorded when it was issued)."""
    from activities.paperwork import CampaignPapers, notice_by_code, notice_record, stored_files

    async def read(conn: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]:
        notice = await notice_by_code(conn, code, campaign)
        record = await notice_record(conn, notice)
        files = await stored_files(conn, notice["campaign"], "notice", notice["code"], record.get("documents") or {})
        names = (await CampaignPapers().facts(conn, notice["campaign"])).names
        return notice, record, files, names

    notice, record, files, names = run(_papers(read))
    written = _write_files(f"notice {code}", files, {"docx": docx, "pdf": pdf})
    data = {
        **notice,
        "unit_name": names.get(notice["unit"], notice["unit"]),
        "copy_to": record.get("copy_to", notice["copy_to"]),
        "overdue": record.get("overdue", []),
        "reply_by": record.get("reply_by"),
        "files": {
            fmt: {"filename": f.filename, "sha256": f.sha256, "size": len(f.content)} for fmt, f in files.items()
        },
    }
    if as_json:
        out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False)
    else:
        colour = notice["severity"] or "unknown"
        copies = data["copy_to"] if isinstance(data["copy_to"], list) else [data["copy_to"]]
        for k, v in (
            ("notice", notice["code"]),
            ("campaign", notice["campaign"]),
            ("date", notice["date"]),
            ("to", f"{names.get(notice['unit'], notice['unit'])} ({notice['unit']})"),
            ("copy to", ", ".join(f"{names.get(c, c)} ({c})" for c in copies if c) or "-"),
            ("severity", f"{colour} {SEVERITY_LABELS.get(colour, '')}".strip()),
            ("level", notice["level"]),
            ("obligation", notice["obligation"]),
            ("overdue", ", ".join(data["overdue"]) or "-"),
            ("reply by", data["reply_by"] or "-"),
        ):
            out.print(f"{k:<12}{v}", markup=False)
        for fmt, f in files.items():
            out.print(f"{fmt:<12}{f.filename} sha256 {f.sha256}", markup=False)
    for line in written:
        err.print(line, markup=False)


def _month(s: str) -> date:
    try:
        return datetime.strptime(s, "%Y-%m").date()
    except ValueError:
        raise UserError(f"{s!r} is not a month: write YYYY-MM, e.g. 2021-12") from None


@app.command("bulletin")
def bulletin_cmd(
    campaign: str,
    month: str = typer.Argument(..., metavar="MONTH", help="YYYY-MM: the month reported on."),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Write the stored 台账 workbook here."),
    docx: Path | None = typer.Option(None, "--docx", help="Write the stored DOCX here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the stored PDF here."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A month's 通报 as published: every unit's counts, 序时进度 and rank, who is commended and
    criticised, 责令整改 issued and still open; with --xlsx/--docx/--pdf, write its stored files
    (checked against the SHA-256 recorded in the bulletin)."""
    from activities.paperwork import bulletin_of, stored_files

    first = _month(month)
    ref = f"{first:%Y-%m}"

    async def read(conn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        body = await bulletin_of(conn, campaign, first)
        recorded = body.get("documents") or {}
        files = await stored_files(conn, campaign, "bulletin", ref, recorded.get("bulletin") or {})
        files.update(await stored_files(conn, campaign, "ledger", ref, recorded.get("ledger") or {}))
        return body, files

    body, files = run(_papers(read))
    written = _write_files(f"bulletin {ref}", files, {"xlsx": xlsx, "docx": docx, "pdf": pdf})
    if as_json:
        data = {
            "campaign": campaign,
            **body,
            "files": {
                fmt: {"filename": f.filename, "sha256": f.sha256, "size": len(f.content)} for fmt, f in files.items()
            },
        }
        out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False)
    else:
        units = body["units"]
        out.print(body.get("title") or f"{campaign} {ref}", markup=False)
        totals = body.get("totals")
        if totals:
            out.print(
                f"as of {body['as_of']}: {totals['units']} units, {totals['total']} obligations, {totals['done']} done "
                f"({totals['on_time']} on time, {totals['late']} late), {totals['overdue']} overdue",
                markup=False,
            )
        t = Table("rank", "unit", "total", "done", "on time", "late", "overdue", "序时进度", "progress", "colour")
        for i, u in enumerate(body["ranking"], start=1):
            s = units[u]
            t.add_row(
                str(s.get("rank", i)),
                f"{s['name']} ({u})",
                str(s["total"]),
                str(s["completed"]),
                str(s["on_time"]),
                str(s["late"]),
                str(s["overdue"]),
                f"{s['expected_progress']:.1f}%" if "expected_progress" in s else "-",
                f"{s['actual_progress']:.1f}%" if "actual_progress" in s else "-",
                f"{s['colour']} {COLOUR_LABELS.get(s['colour'], '')}".strip(),
            )
        out.print(t)

        def named(ids: list[str]) -> str:
            return ", ".join(f"{units[u]['name']} ({u})" if u in units else u for u in ids) or "-"

        out.print(f"commended   {named(body.get('commended', []))}", markup=False)
        out.print(f"criticised  {named(body.get('laggards', []))}", markup=False)
        for key, label in (("orders_issued", "orders"), ("orders_unresolved", "open orders")):
            entries = body.get(key, [])
            listed = ", ".join(f"{o['unit_name']} ({o['month'][:7]}, due {o['due']}, {o['state']})" for o in entries)
            out.print(f"{label:<12}{listed or '-'}", markup=False)
        for fmt, f in files.items():
            out.print(f"{fmt:<12}{f.filename} sha256 {f.sha256}", markup=False)
    for line in written:
        err.print(line, markup=False)


@audit_app.command("verify")
def audit_verify(
    campaign: str,
    histories_dir: Path | None = typer.Option(
        None, "--histories", help="Saved histories (a rehearsal writes them to its --out folder)."
    ),
) -> None:
    """Prove the record: recompute the audit hash chain, replay the campaign's Temporal histories
    through the current code, and cross-check every recorded effect against the chain."""
    from activities import history, servers
    from services.audit import verify_campaign

    settings = get_settings()
    saved: list[Any] | None = None
    if histories_dir is not None:
        if not histories_dir.is_dir():
            raise UserError(f"{histories_dir}: no such folder")
        saved = history.load(histories_dir)

    async def go() -> history.Verdict:
        nonlocal saved
        engine = await _db()
        missing = None
        if saved is None:
            try:
                client = await servers.connect(settings, start=False)
                saved = await history.collect(client, [campaign], optional=[f"{campaign}/simulation"])
            except Exception as e:
                missing = f"could not fetch the campaign's histories from Temporal ({e}); pass --histories DIR"
        with Progress(
            TextColumn("verifying {task.fields[step]}"),
            TextColumn("{task.completed:,} done"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("verify", total=None, step="chain")
            async with engine.connect() as conn:
                verdict = await verify_campaign(
                    conn,
                    campaign,
                    histories=saved,
                    missing=missing,
                    engine=engine,
                    progress=lambda step, n: bar.update(task, step=step, completed=n),
                )
        await engine.dispose()
        return verdict

    v = run(go())
    if v.ok:
        out.print(
            f"{campaign}: holds: chain of {v.chain.rows:,} rows (head {v.chain.head[:16]}…), "
            f"{v.histories} histories replayed, {v.effects:,} recorded effects matched",
            markup=False,
        )
        return
    err.print(f"{campaign}: does NOT hold", markup=False)
    for p in v.problems()[:20]:
        err.print(f"  {p}", markup=False)
    raise typer.Exit(1)


@audit_app.command("explain")
def audit_explain(
    obligation: str,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """An obligation's timeline in plan time: each step, the unit or rule behind it, the facts a
    rule saw and the working days it counted."""
    from activities.auditing import Explanation, UnknownObligation, explain

    async def go() -> Explanation:
        engine = await _db()
        try:
            async with engine.connect() as conn:
                return await explain(conn, obligation)
        except UnknownObligation as e:
            raise UserError(str(e), code=1) from None
        finally:
            await engine.dispose()

    result = run(go())
    if as_json:
        out.print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), markup=False)
        return
    for line in result.lines():
        out.print(line, markup=False)


@audit_app.command("export")
def audit_export(
    campaign: str,
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to write (default: out/audit-CAMPAIGN)."),
) -> None:
    """Write a campaign's audit chain as audit.jsonl and audit.xlsx, and its workflow histories
    when the configured Temporal server has them."""
    from activities.auditing import NO_CLIENT, ExportSummary, UnknownCampaign, export, reachable_client

    folder = out_dir or Path("out") / f"audit-{campaign}"

    async def go() -> ExportSummary:
        engine = await _db()
        client, why = await reachable_client(get_settings())
        try:
            with Progress(
                TextColumn("[bold]exporting[/] {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as bar:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if total < 1000 and stage == "rows":
                        return  # a small campaign is done before a bar says anything
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done, total=total)

                async with engine.connect() as conn:
                    summary = await export(conn, campaign, folder, client, progress=progress)
        except UnknownCampaign as e:
            raise UserError(str(e), code=1) from None
        finally:
            await engine.dispose()
        if why is not None:
            skipped = f"workflow histories not exported: {why}"
            summary.warnings = [skipped if w == NO_CLIENT else w for w in summary.warnings]
        return summary

    summary = run(go())
    for w in summary.warnings:
        err.print(f"warning: {w}", markup=False)
    if not summary.chain_ok:
        err.print(f"warning: {campaign}: the audit chain does not hold:", markup=False)
        for p in summary.problems:
            err.print(f"  {p}", markup=False)
    out.print(
        f"{campaign}: {summary.rows} audit rows, chain {'holds' if summary.chain_ok else 'BROKEN'} "
        f"(head {summary.head[:16]}…), {summary.histories} workflow histories → {folder}",
        markup=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to the configured database."""
    from activities import servers
    from activities.store.db import upgrade

    url = run(servers.app_database(get_settings()))
    run(upgrade(url))
    out.print("database is at the latest schema")


# -- scores (考核评分) ---------------------------------------------------------------------------------
# One sub-app, kept in this one block: score sheets (plans/scoresheets/*.yaml); scores entered or
# imported from Excel into a campaign, checked against the score book it pinned at launch, and
# stored straight into PostgreSQL (activities.store.scores: one transaction, with the audit rows),
# no Temporal server needed; and `duban evaluation`, the comprehensive evaluation.

scores_app = typer.Typer(
    no_args_is_help=True, help="Assessment scores (考核评分): check sheets, template, import, enter, list."
)
app.add_typer(scores_app, name="scores")

DEFAULT_SHEETS = ROOT / "plans" / "scoresheets" / "suixian.yaml"
DEFAULT_UNITS = ROOT / "plans" / "units" / "suixian.yaml"
_SHEETS_OPT = typer.Option(DEFAULT_SHEETS, "--sheets", help="Score-sheet file.", show_default=False)
_UNITS_OPT = typer.Option(
    DEFAULT_UNITS, "--units", help="Unit directory (the towns in scope are scored).", show_default=False
)
_BY_OPT = typer.Option(None, "--by", help="Who enters the scores (录入人; default: your login name).")
_DRY_OPT = typer.Option(False, "--dry-run", help="Check and compute against the campaign; store nothing.")


def _scorebook(path: Path, plan: Path | None = None) -> Any:
    from rules.scoresheets import parse_scorebook

    return parse_scorebook(_read(path), path=str(path), plan=load_plan(plan) if plan else None)


def _score_sheet(book: Any, sheet_id: str) -> Any:
    try:
        return book.sheet(sheet_id)
    except KeyError:
        known = ", ".join(s.id for s in book.sheets)
        raise UserError(f"no score sheet {sheet_id!r} (the file has {known})") from None


def _scope(book: Any, units: Path) -> Any:
    return book.units_in_scope(parse_directory(_read(units), path=str(units)))


def _score_json(record: Any, result: Any) -> dict[str, Any]:
    return {"record": record.model_dump(mode="json"), "score": result.model_dump(mode="json")}


@scores_app.command("check")
def scores_check(
    file: Path = typer.Argument(DEFAULT_SHEETS, metavar="[FILE]", show_default=False),
    plan: Path = typer.Option(DEFAULT_PLAN, "--plan", help="The plan whose milestones and tasks the sheets name."),
) -> None:
    """Validate a score-sheet file: exit 0 with a summary, or 2 with FILE:LINE: message."""
    book = _scorebook(file, plan)
    kinds = ", ".join(f"{s.id} ({len(s.criteria)} criteria, pass {s.pass_mark:g})" for s in book.sheets)
    out.print(f"{file}: ok: {len(book.sheets)} sheets for {book.plan}: {kinds}; {book.digest()[:19]}", markup=False)


@scores_app.command("template")
def scores_template(
    sheet_id: str = typer.Argument(..., metavar="SHEET"),
    out_file: Path = typer.Option(..., "--out", help="The .xlsx file to write."),
    units: Path = _UNITS_OPT,
    sheets: Path = _SHEETS_OPT,
    assessor: str | None = typer.Option(None, "--assessor", help="Pre-fill the 评分人 column."),
    on: str | None = typer.Option(None, "--date", help="Pre-fill the 评分日期 column (YYYY-MM-DD)."),
) -> None:
    """Write the blank sheet: one row per town in scope, one column per criterion."""
    from activities.score_workbook import write_template
    from rules.scoring import date_problem

    book = _scorebook(sheets)
    sheet = _score_sheet(book, sheet_id)
    day = _date(on) if on else None
    if day is not None and (why := date_problem(sheet, day)):
        raise UserError(f"--date: {why}")
    scope = _scope(book, units)
    if out_file.suffix.lower() != ".xlsx":
        raise UserError(f"{out_file}: the template is an .xlsx workbook; name it F.xlsx")
    try:
        write_template(out_file, sheet, scope, assessor=assessor, on=day)
    except OSError as e:
        raise UserError(f"{out_file}: cannot write: {e.strerror or e}") from None
    out.print(
        f"{out_file}: {sheet.name} ({sheet.id}): {len(scope)} units × {len(sheet.criteria)} criteria", markup=False
    )


def _entered_by(by: str | None) -> str:
    import getpass

    if by and by.strip():
        return by.strip()[:100]
    try:
        return getpass.getuser()[:100] or "cli"
    except Exception:  # no login name (a container without a passwd entry)
        return "cli"


async def _into_campaign(campaign: str, work: Any, *, store: bool) -> Any:
    """Run `work(conn, pinned)` in one transaction on the campaign (its row locked when storing).
    The campaign's refusal (unknown, no sheets, closed, evaluated) becomes the user's message."""
    from activities.store.scores import Refused, pinned
    from rules.scoring import EntryError

    engine = await _db()
    try:
        async with engine.begin() as conn:
            p = await pinned(conn, campaign, lock=store)
            if store and (why := p.refusal()):
                raise UserError(why, code=1)
            return await work(conn, p)
    except Refused as e:
        raise UserError(str(e), code=e.code) from None
    except EntryError as e:
        raise UserError("\n".join(e.problems)) from None
    finally:
        await engine.dispose()


async def _store(conn: Any, p: Any, records: Any, by: str | None) -> Any:
    from activities.store.scores import cli_provenance, store

    now = datetime.now(UTC)
    return await store(
        conn,
        p,
        records,
        entered_by=_entered_by(by),
        provenance=cli_provenance(p),
        plan_time=p.plan_now(now),
        server_time=now,
    )


def _stored_line(campaign: str, stored: Any) -> str:
    if stored is None:
        return "dry run: nothing stored"
    new = [x for x in stored if x.new]
    corrected = sum(x.supersedes is not None for x in new)
    parts = [f"stored {len(new)} scores in {campaign}"]
    if corrected:
        parts.append(f"{corrected} correcting earlier ones")
    if len(stored) - len(new):
        parts.append(f"{len(stored) - len(new)} unchanged (already stored)")
    return "; ".join(parts)


@scores_app.command("import")
def scores_import(
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
    from activities.score_workbook import WorkbookError, read_cells
    from rules.score_import import read_scores
    from rules.scoring import score

    day = _date(on) if on else None
    try:
        title, rows = read_cells(file, prefer=sheet_id)
    except WorkbookError as e:
        raise UserError(str(e)) from None

    async def work(conn: Any, p: Any) -> Any:
        sheet = _score_sheet(p.book, sheet_id)
        got = read_scores(
            sheet, p.scope(), rows, source=file.name, assessor=assessor.strip() if assessor else None, on=day
        )
        stored = await _store(conn, p, got.records, by) if got.ok and not dry_run else None
        return sheet, p.scope(), got, stored

    sheet, scope, got, stored = run(_into_campaign(campaign, work, store=not dry_run))
    if not got.ok:
        err.print(f"{file} (worksheet {title}): {len(got.errors)} bad cells; nothing imported", markup=False)
        for bad in got.errors:
            err.print(str(bad), markup=False)
        raise typer.Exit(2)
    results = [score(sheet, r) for r in got.records]
    if as_json:
        data = [_score_json(r, s) for r, s in zip(got.records, results, strict=True)]
        out.print_json(json.dumps(data, ensure_ascii=False))
    else:
        passed = sum(s.passed for s in results)
        mean = sum(s.total for s in results) / len(results)
        missing = [u.name for u in scope if u.id not in {r.unit_id for r in got.records}]
        out.print(
            f"{file}: ok: {len(results)} units on {sheet.id} ({sheet.name}): {passed} passed, "
            f"{len(results) - passed} failed (pass mark {sheet.pass_mark:g}); mean {mean:.2f}"
            + (f"; not scored: {'、'.join(missing)}" if missing else ""),
            markup=False,
        )
        names = {u.id: u.name for u in scope}
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
    err.print(_stored_line(campaign, stored), markup=False)


@scores_app.command("enter")
def scores_enter(
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
    from rules.scoring import EntryError, enter, score

    day = _date(on)

    async def work(conn: Any, p: Any) -> Any:
        sheet = _score_sheet(p.book, sheet_id)
        try:
            record = enter(sheet, units=p.scope(), unit=unit, pairs=pairs, assessor=assessor, on=day, findings=findings)
        except EntryError as e:
            return sheet, p.scope(), e, None
        stored = None if dry_run else await _store(conn, p, [record], by)
        return sheet, p.scope(), record, stored

    sheet, scope, record, stored = run(_into_campaign(campaign, work, store=not dry_run))
    if isinstance(record, EntryError):
        err.print(f"{sheet.id} {unit}: {len(record.problems)} problems; nothing entered", markup=False)
        for p in record.problems:
            err.print(p, markup=False)
        raise typer.Exit(2)
    result = score(sheet, record)
    if as_json:
        data = _score_json(record, result)
        if stored:
            data["stored"] = {"id": stored[0].id, "new": stored[0].new, "supersedes": stored[0].supersedes}
        out.print_json(json.dumps(data, ensure_ascii=False))
    else:
        name = next(u.name for u in scope if u.id == record.unit_id)
        out.print(
            f"{sheet.name} ({sheet.id}) · {name} ({record.unit_id}) · {record.assessor} · {record.assessed_on}",
            markup=False,
        )
        t = Table("criterion", "name", "points", "max", "weight", "weighted", "")
        for c in result.criteria:
            crit = sheet.criterion(c.criterion_id)
            t.add_row(
                c.criterion_id,
                crit.name,
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
    err.print(_stored_line(campaign, stored), markup=False)


@scores_app.command("list")
def scores_list(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    sheet_id: str | None = typer.Option(None, "--sheet", help="Only this sheet."),
    unit: str | None = typer.Option(None, "--unit", help="Only this unit (id)."),
    everything: bool = typer.Option(False, "--all", help="Also the scores corrected since."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A campaign's stored scores: the current ones (with --all, also those corrected since)."""
    from sqlalchemy import select

    from activities.store.scores import current
    from activities.store.tables import assessment_scores as t_scores

    async def work(conn: Any, p: Any) -> Any:
        if everything:
            q = select(t_scores).where(t_scores.c.campaign_id == campaign).order_by(t_scores.c.id)
            rows = list((await conn.execute(q)).all())
        else:
            rows = await current(conn, campaign)
        return p, [r for r in rows if (sheet_id in (None, r.sheet_id)) and (unit in (None, r.unit_id))]

    p, rows = run(_into_campaign(campaign, work, store=False))
    names = {u.id: u.name for u in p.scope()}
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
                "total": float(r.total),
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
            names.get(r.unit_id, ""),
            r.assessed_on.isoformat(),
            f"{float(r.total):.2f}",
            "pass" if r.passed else "FAIL",
            r.assessor,
            r.source,
            str(r.supersedes or ""),
        )
    if rows:
        out.print(t)
    out.print(f"{campaign}: {len(rows)} scores", markup=False)


@app.command()
def evaluation(
    campaign: str = typer.Argument(..., metavar="CAMPAIGN"),
    docx: Path | None = typer.Option(None, "--docx", help="Write the final report (Word) here."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Write the final report (PDF) here."),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Write the final report's workbook here."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON (as stored)."),
) -> None:
    """The comprehensive evaluation (综合评价): ranking, standards met, laggards, 楚天杯
    recommendations, 长效管理 items; the files of the final report. The stored evaluation once
    the evaluation phase has ended; before then a provisional one, computed now and not stored."""
    from sqlalchemy import select

    from activities.assessing import FINAL_REPORT, evaluation_of
    from activities.documents.final_report import render_final_report
    from activities.store.scores import EVALUATION_KIND
    from activities.store.tables import documents
    from models.assessment import EvaluationRecord

    wanted = {"docx": docx, "pdf": pdf, "xlsx": xlsx}

    async def work(conn: Any, p: Any) -> Any:
        q = (
            select(documents)
            .where(documents.c.campaign_id == campaign, documents.c.kind.in_([EVALUATION_KIND, FINAL_REPORT]))
            .order_by(documents.c.id)
        )
        docs = (await conn.execute(q)).all()
        stored = next((d for d in docs if d.kind == EVALUATION_KIND), None)
        if stored is not None:
            record = EvaluationRecord.model_validate_json(stored.content)
            files = {d.format: (d.content, d.sha256) for d in docs if d.kind == FINAL_REPORT and d.ref == stored.ref}
            return p, record, stored.content, files
        as_of = min(p.plan_now(datetime.now(UTC)).date(), p.plan.end)
        record, report = await evaluation_of(conn, campaign, as_of=as_of, provisional=True)
        files = {}
        if any(wanted.values()):
            rendered = await asyncio.to_thread(render_final_report, report)
            files = {fmt: (f.data, f.sha256) for fmt, f in rendered.items()}
        return p, record, record.model_dump_json(indent=2).encode(), files

    p, record, raw, files = run(_into_campaign(campaign, work, store=False))
    for fmt, path in wanted.items():
        if path is None:
            continue
        if fmt not in files:
            raise UserError(f"{campaign}: no {fmt} file of the final report is stored", code=1)
        data, sha = files[fmt]
        try:
            path.write_bytes(data)
        except OSError as e:
            raise UserError(f"{path}: cannot write: {e.strerror or e}") from None
        err.print(f"wrote {path} ({len(data):,} bytes, sha256 {sha[:16]}…)", markup=False)
    if as_json:
        out.print(raw.decode(), markup=False)
        return
    ev = record.evaluation
    names = record.names
    w = p.book.evaluation
    state = "provisional, not stored" if record.provisional else "stored"
    t = Table(
        title=f"{campaign}: 综合评价 as of {record.as_of} ({state}; {record.scores} scores)",
        show_header=True,
    )
    for col in ("rank", "unit", "name", "total"):
        t.add_column(col, justify="right" if col in ("rank", "total") else "left")
    t.add_column(f"timeliness {w.timeliness:g}%", justify="right")
    t.add_column(f"rectification {w.rectification:g}%", justify="right")
    t.add_column(f"assessment {w.assessment:g}%", justify="right")
    t.add_column("meets")
    t.add_column("open orders", justify="right")
    t.add_column("")
    commended, lagging = set(ev.commended), {x.unit_id: x for x in ev.laggards}
    for town in ev.towns:
        mark = (
            "楚天杯"
            if town.unit_id in commended
            else ("后进: " + ", ".join(lagging[town.unit_id].reasons) if town.unit_id in lagging else "")
        )
        t.add_row(
            str(town.rank),
            town.unit_id,
            names.get(town.unit_id, ""),
            f"{town.total:.2f}",
            f"{town.timeliness:.2f}",
            f"{town.rectification:.2f}",
            f"{town.assessment:.2f}",
            ",".join(town.meets) or "-",
            str(town.open_orders),
            mark,
        )
    out.print(t)
    for m, ids in ev.standards.items():
        out.print(f"meets {m}: {len(ids)} of {len(ev.towns)}", markup=False)
    out.print(f"楚天杯 recommended: {'、'.join(names[u] for u in ev.commended) or 'none'}", markup=False)
    out.print(f"laggards (后进): {'、'.join(names[x.unit_id] for x in ev.laggards) or 'none'}", markup=False)
    for item in ev.long_term:
        out.print(
            f"长效管理: {item.sheet_id}.{item.criterion_id} {item.name}: failed {item.failed} of {item.scored}",
            markup=False,
        )


# -- rules ----------------------------------------------------------------------------------------


def _campaign_update(campaign: str, update: str, arg: Any, result: type[T], *, what: str) -> T:
    """Send a campaign workflow an Update: its validator's or handler's refusal is exit 2 with
    the message, a campaign not running here exit 1 saying `what` did not happen."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from activities import servers

    async def go() -> T:
        client = await servers.connect(get_settings())
        try:
            done: T = await client.get_workflow_handle(campaign).execute_update(update, arg, result_type=result)
        except WorkflowUpdateFailedError as e:
            raise UserError(f"refused: {getattr(e.cause, 'message', e)}", code=2) from None
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            raise UserError(
                f"campaign {campaign} is not running (closed, or not launched here): {what}", code=1
            ) from None
        return done

    return run(go())


def closed_message(campaign: str, when: datetime | None) -> str:
    on = f" on {when.astimezone(CST):%Y-%m-%d}" if when else ""
    return f"campaign {campaign} is closed{on}: it takes no further changes"


async def _closed(campaign: str) -> datetime | None:
    """When the campaign closed, or None while it runs (or if it is unknown)."""
    from sqlalchemy import select

    from activities.store.tables import campaigns

    engine = await _db()
    try:
        async with engine.connect() as conn:
            q = select(campaigns.c.closed_plan_time, campaigns.c.status).where(campaigns.c.id == campaign)
            row = (await conn.execute(q)).first()
    finally:
        await engine.dispose()
    return row.closed_plan_time if row is not None else None


@plan_app.command("amend")
def plan_amend(
    campaign: str,
    plan_file: Path = typer.Argument(..., metavar="FILE"),
    actor: str = typer.Option("office", "--by", help="Who amends it (for the audit trail)."),
) -> None:
    """Amend a running campaign's plan (add a task, change a due date or a lead unit): its
    obligations are added, moved or withdrawn, and the amendment is on the record."""

    from models.payloads import AmendPlan, PlanAmended

    plan = load_plan(plan_file)  # FILE:LINE here, before anything is sent
    if (when := run(_closed(campaign))) is not None:
        raise UserError(closed_message(campaign, when), code=1)

    req = AmendPlan(plan=plan, path=str(plan_file), actor=actor)
    done: PlanAmended = _campaign_update(campaign, "amend_plan", req, PlanAmended, what="nothing amended")
    c = done.counts
    out.print(
        f"{campaign}: amended ({done.previous_hash[:19]} → {done.plan_hash[:19]}): {c['added']} obligations added, "
        f"{c['withdrawn']} withdrawn, {c['moved']} moved, {c['relead']} handed to another lead",
        markup=False,
    )


@rules_app.command("check")
def rules_check(
    rules_file: Path = typer.Argument(..., metavar="FILE"),
    plan_file: Path | None = typer.Option(None, "--plan", help="Also check the roles and milestones it names."),
) -> None:
    """Read a rule set and prove it can run: exit 0 with a summary, exit 2 with FILE:LINE."""
    plan = load_plan(plan_file) if plan_file else None
    rs = load_ruleset(rules_file, plan)
    kinds = Counter(r.trigger.kind.value for r in rs.rules)
    out.print(
        f"{rules_file}: ok: {rs.id} v{rs.version}: {len(rs.rules)} rules ("
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + f"), ladder {' → '.join(r.value for r in rs.ladder)}, {rs.digest()[:19]}",
        markup=False,
    )


@rules_app.command("test")
def rules_test(
    rules_file: Path = typer.Argument(..., metavar="FILE"),
    scenarios_file: Path = typer.Argument(..., metavar="SCENARIOS"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run a table of scenarios (facts → expected actions and dates) against a rule set:
    exit 0 when every one passes, 1 when any fails, 2 for a file that does not read."""
    from rules.engine import Engine
    from rules.scenarios import parse_scenarios
    from rules.scenarios import run as run_scenario

    rs = load_ruleset(rules_file)
    table, lines = parse_scenarios(_read(scenarios_file), path=str(scenarios_file))
    years = table.calendar_years or tuple(
        range(
            min(s.obligation.assigned.year for s in table.scenarios),
            max((s.until or s.obligation.due).year for s in table.scenarios) + 2,
        )
    )
    data, missing = load_calendar(get_settings(), range(min(years), max(years) + 1))
    warn_missing(missing, get_settings())
    engine = Engine(rs, cal.WorkCalendar(data), table.milestones)
    results = [run_scenario(engine, s, line=lines.get(("scenarios", i), 0)) for i, s in enumerate(table.scenarios)]
    failed = [r for r in results if not r.passed]
    if as_json:
        out.print(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "line": r.line,
                        "passed": r.passed,
                        "fired": [o.label() for o in r.got],
                        "missing": [e.model_dump(mode="json") for e in r.missing],
                        "unexpected": [o.label() for o in r.unexpected],
                    }
                    for r in results
                ],
                ensure_ascii=False,
                indent=2,
            ),
            markup=False,
        )
    else:
        for r in results:
            for line in r.lines():
                out.print(
                    f"{scenarios_file}:{r.line}: {line}" if line.startswith(("PASS", "FAIL")) else line, markup=False
                )
        out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed", markup=False)
    if failed:
        raise typer.Exit(1)


async def _record(campaign: str, obligation: str | None = None) -> Any:
    from activities.rulebook import UnknownCampaign, load

    engine = await _db()
    try:
        async with engine.connect() as conn:
            return await load(conn, campaign, obligation_id=obligation)
    except UnknownCampaign as e:
        raise UserError(str(e), code=1) from None
    finally:
        await engine.dispose()


@rules_app.command("whatif")
def rules_whatif(
    campaign: str,
    rules_file: Path = typer.Argument(..., metavar="FILE"),
    calendar_file: Path | None = typer.Option(
        None, "--calendar", help="Another calendar file (years it gives replace the pinned ones)."
    ),
    as_json: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(50, "--limit", help="Obligations to list (all with --json)."),
) -> None:
    """Replay a campaign's recorded facts under another rule set (or calendar): which reminders,
    escalations and notices would have differed, obligation by obligation. Changes nothing."""
    from activities.rulebook import whatif

    rec = run(_record(campaign))
    rs = load_ruleset(rules_file, rec.plan)
    calendar = None
    if calendar_file is not None:
        data, _ = parse_yaml(_read(calendar_file), path=str(calendar_file))
        try:
            years = cal.parse_calendar_file(data, path=str(calendar_file))
        except ValueError as e:
            raise UserError(str(e)) from None
        merged = {y.year: y for y in rec.calendar.years} | years
        calendar = rec.calendar.model_copy(update={"years": tuple(merged[y] for y in sorted(merged))})
    result = whatif(rec, rs, calendar)
    if as_json:
        out.print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), markup=False)
        return
    names = {
        "remind": "reminders",
        "escalate": "escalations",
        "notice": "notices",
        "rectify": "rectification orders",
        "bulletin": "bulletin listings",
    }
    out.print(
        f"{campaign} under {rs.id} v{rs.version} ({rules_file}), as recorded up to "
        f"{rec.as_of.astimezone(CST):%Y-%m-%d %H:%M}"
        if rec.as_of
        else f"{campaign} under {rs.id} v{rs.version}",
        markup=False,
    )
    for k, label in names.items():
        b, a = result.before[k], result.after[k]
        change = f"{a - b:+d}" if a != b else "same"
        out.print(f"  {label:<22}{b:>6} → {a:<6} {change}", markup=False)
    out.print(f"{len(result.differences)} of {result.obligations} obligations would differ", markup=False)
    for d in result.differences[:limit]:
        out.print(d.obligation_id, markup=False)
        for line in d.lines():
            out.print(line, markup=False)
    if len(result.differences) > limit:
        out.print(f"… and {len(result.differences) - limit} more (--limit, or --json for all)", markup=False)


@rules_app.command("explain")
def rules_explain(obligation: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """For an obligation of a running or finished campaign: each action, the rule that fired it
    and why; then the next actions due under the rule set in force, with their dates."""
    from activities.rulebook import explain_obligation

    try:
        cid = obligation.split("/", 1)[0]
        workflow_id_of(obligation)
    except ValueError as e:
        raise UserError(str(e)) from None
    rec = run(_record(cid, obligation))
    if obligation not in rec.specs:
        raise UserError(f"campaign {cid} has no obligation {obligation!r}", code=1)
    ex = explain_obligation(rec, obligation)
    if as_json:
        out.print(json.dumps(ex, ensure_ascii=False, indent=2, default=str), markup=False)
        return
    out.print(f"{obligation}: {ex['title']} (due {ex['due']}, {ex['state']} {ex['progress']}%)", markup=False)
    out.print(f"rule set in force: {ex['ruleset']}", markup=False)
    out.print("actions taken:" if ex["taken"] else "no action taken yet", markup=False)
    for a in ex["taken"]:
        out.print(f"  {a['on']} {a['action']}  by rule {a['rule']}「{a['description']}」", markup=False)
        out.print(f"      when {a['trigger']}, if {a['when']}: saw {a['saw']}", markup=False)
    if ex["closed"]:
        out.print("the campaign is closed: nothing further is due", markup=False)
        return
    out.print(
        f"next, as of {ex['as_of']} if nothing changes:" if ex["next"] else "nothing further is scheduled", markup=False
    )
    for n in ex["next"]:
        verdict = "would fire" if n["would_fire"] else f"would not fire ({n['why']})"
        out.print(f"  {n['on']} {n['action']}  rule {n['rule']}「{n['description']}」: {verdict}", markup=False)


@rules_app.command("install")
def rules_install(
    campaign: str,
    rules_file: Path = typer.Argument(..., metavar="FILE"),
    actor: str = typer.Option("office", "--by", help="Who installs it (for the audit trail)."),
) -> None:
    """Install a new rule set on a running campaign, through a validated Update: a rule set that
    does not parse or compile, or names a role or milestone the plan lacks, changes nothing.
    It applies to future firings only; the installation is in the audit trail."""

    from models.payloads import InstallRules, RulesInstalled

    text = _read(rules_file)
    rec = run(_record(campaign))
    if rec.closed:
        raise UserError(closed_message(campaign, rec.as_of), code=1)
    load_ruleset(rules_file, rec.plan)  # FILE:LINE here, before anything is sent

    req = InstallRules(text=text, path=str(rules_file), actor=actor)
    done: RulesInstalled = _campaign_update(campaign, "install_rules", req, RulesInstalled, what="nothing installed")
    out.print(
        f"{campaign}: installed {done.ruleset_id} v{done.version} ({done.ruleset_hash[:19]}), replacing "
        f"{done.previous_hash[:19]}; applies to firings from {done.since.astimezone(CST):%Y-%m-%d %H:%M} plan time",
        markup=False,
    )


# -- 责令整改 ------------------------------------------------------------------------------------------

rectify_app = typer.Typer(
    no_args_is_help=True, help="责令整改: rectification orders, the units' reports, the office's review."
)
app.add_typer(rectify_app, name="rectify")


def _rectify(order: str, verb: str, make: Any) -> RectificationView:
    """Send an Update to the order's workflow; `make(office)` builds its argument (the campaign's
    office, from the order's workflow, for a review's default reviewer). Bad input exits 2 before
    anything is sent; a refused action exits 2 too (and is on the audit trail)."""
    from pydantic import ValidationError
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from activities import servers

    def build(office: str) -> Any:
        try:
            return make(office)
        except ValidationError as e:
            raise UserError("; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors())) from None

    try:
        campaign_of(order)
    except ValueError:
        raise UserError(
            f"{order!r} is not a rectification order: give its id as `duban rectify list CAMPAIGN` shows it "
            "(CAMPAIGN/rectify/…)"
        ) from None
    build("office")  # refuse bad input before connecting to anything

    async def go() -> RectificationView:
        client = await servers.connect(get_settings(), start=False)
        handle = client.get_workflow_handle(order)
        try:
            current = await handle.query("view", result_type=RectificationView)
            view: RectificationView = await handle.execute_update(
                verb, build(current.office), result_type=RectificationView
            )
        except WorkflowUpdateFailedError as e:
            raise UserError(f"refused: {getattr(e.cause, 'message', e)}", code=2) from None
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            raise UserError(
                f"no workflow follows {order}: it was not issued, or it ended (resolved, or closed with the campaign)",
                code=1,
            ) from None
        return view

    try:
        return run(go())
    except RuntimeError as e:  # no Temporal server to reach (none is started for this)
        if "no Temporal server" not in str(e):
            raise
        raise UserError(str(e), code=1) from None


def _print_order(v: RectificationView) -> None:
    out.print(f"{v.workflow_id}: {v.state.value}, due {v.due.isoformat()}, round {v.round}", markup=False)


@rectify_app.command("report")
def rectify_report(
    order: str = typer.Argument(..., metavar="ORDER"),
    unit: str = typer.Option(..., "--unit", help="The reporting unit (the one ordered)."),
    text: str = typer.Option(..., "--text", help="The 整改报告: what was rectified."),
    evidence: list[str] = typer.Option([], "--evidence", help="A reference to an evidence file (repeatable)."),
) -> None:
    """整改报告: a unit reports what it rectified."""
    _print_order(_rectify(order, "report", lambda _: ReportRectification(unit_id=unit, text=text, evidence=evidence)))


@rectify_app.command("review")
def rectify_review(
    order: str = typer.Argument(..., metavar="ORDER"),
    accept: bool = typer.Option(False, "--accept", help="Accept the report: the order is resolved."),
    reject: bool = typer.Option(False, "--reject", help="Send the report back (give --reason)."),
    reason: str = typer.Option("", "--reason", help="Why it is rejected (or a note on acceptance)."),
    due: str | None = typer.Option(None, "--due", help="Rejections: the new due date (default: rule set's days)."),
    reviewer: str | None = typer.Option(None, "--as", help="The reviewing unit (default: the campaign's office)."),
) -> None:
    """The office reviews a unit's 整改报告: --accept, or --reject --reason R [--due DATE]."""
    if accept == reject:
        raise UserError("give one of --accept or --reject (with --reason)")
    new_due = _date(due) if due else None
    _print_order(
        _rectify(
            order,
            "review",
            lambda office: ReviewRectification(
                reviewer=reviewer or office, accept=accept, reason=reason, new_due=new_due
            ),
        )
    )


@rectify_app.command("list")
def rectify_list(
    campaign: str,
    open_only: bool = typer.Option(False, "--open", help="Only orders not resolved."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A campaign's rectification orders and where each stands (from the read side)."""
    from sqlalchemy import select

    from activities.store.tables import campaigns, rectification_orders

    t = rectification_orders

    async def go() -> list[dict[str, Any]]:
        engine = await _db()
        try:
            async with engine.connect() as conn:
                if (await conn.scalar(select(campaigns.c.id).where(campaigns.c.id == campaign))) is None:
                    raise UserError(f"no campaign {campaign!r}", code=1)
                q = select(t).where(t.c.campaign_id == campaign).order_by(t.c.plan_time, t.c.id)
                if open_only:
                    q = q.where(t.c.state != OrderState.resolved.value)
                return [dict(r) for r in (await conn.execute(q)).mappings()]
        finally:
            await engine.dispose()

    rows = [
        {
            "order": r["workflow_id"] or rectification_workflow_id(campaign, r["idempotency_key"]),
            "key": r["idempotency_key"],
            "unit": r["unit_id"],
            "month": r["month"].isoformat(),
            "issued": _iso(r["plan_time"]),
            "due": r["due"].isoformat(),
            "first_due": r["first_due"].isoformat() if r["first_due"] else None,
            "state": r["state"],
            "round": r["round"],
            "source": r["source"],
            "followed": r["workflow_id"] is not None,
            "report": r["report_text"],
            "evidence": r["evidence"] or [],
            "reported_at": _iso(r["reported_at"]),
            "reviewer": r["reviewer"],
            "review_reason": r["review_reason"],
            "reviewed_at": _iso(r["reviewed_at"]),
            "escalated_at": _iso(r["escalated_at"]),
            "resolved_at": _iso(r["resolved_at"]),
        }
        for r in run(go())
    ]
    if as_json:
        out.print(json.dumps({"campaign": campaign, "orders": rows}, ensure_ascii=False, indent=2), markup=False)
        return
    table = Table("order", "unit", "issued", "due", "state", "round", "report")
    for r in rows:
        issued = r["issued"][:10] if r["issued"] else ""
        table.add_row(r["order"], r["unit"], issued, r["due"], r["state"], str(r["round"]), (r["report"] or "")[:40])
    if rows:
        out.print(table)
    unresolved = sum(r["state"] != OrderState.resolved.value for r in rows)
    out.print(f"{campaign}: {len(rows)} orders shown, {unresolved} not resolved", markup=False)


def main() -> None:
    """Entry point: run the CLI, map errors to exit codes, and exit hard (sdk-python #300)."""
    from activities.logs import configure

    settings = get_settings()
    configure(fmt=settings.log_format, level="warning" if settings.log_level == "info" else settings.log_level)
    code = 0
    try:
        app()  # typer handles usage errors itself (exit 2) and ends in SystemExit
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except SourceError as e:
        err.print(str(e), markup=False)
        code = 2
    except UserError as e:
        err.print(str(e), markup=False)
        code = e.code
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    from activities.servers import hard_exit

    hard_exit(code)


if __name__ == "__main__":
    main()

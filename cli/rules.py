"""`duban rules check|test|whatif|explain|install`: rule sets (催办/督办 rules), proved, tested,
compared on the record, explained, and installed on a running campaign."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer

from activities.config import get_settings
from cli.common import as_office, call, out, warn_missing
from models.time import CST
from rules import calendar as cal
from rules.engine import Engine
from rules.scenarios import parse_scenarios
from rules.scenarios import run as run_scenario
from services import rules
from services.plans import calendar_file_years, load_calendar, load_plan, load_ruleset, read_text

app = typer.Typer(no_args_is_help=True, help="Rule sets (催办/督办 rules): check, test, explain, what-if, install.")


@app.command("check")
def check(
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


@app.command("test")
def test(
    rules_file: Path = typer.Argument(..., metavar="FILE"),
    scenarios_file: Path = typer.Argument(..., metavar="SCENARIOS"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run a table of scenarios (facts → expected actions and dates) against a rule set:
    exit 0 when every one passes, 1 when any fails, 2 for a file that does not read."""
    rs = load_ruleset(rules_file)
    table, lines = parse_scenarios(read_text(scenarios_file), path=str(scenarios_file))
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
        found = [
            {
                "name": r.name,
                "line": r.line,
                "passed": r.passed,
                "fired": [o.label() for o in r.got],
                "missing": [e.model_dump(mode="json") for e in r.missing],
                "unexpected": [o.label() for o in r.unexpected],
            }
            for r in results
        ]
        out.print(json.dumps(found, ensure_ascii=False, indent=2), markup=False)
    else:
        for r in results:
            for line in r.lines():
                shown = f"{scenarios_file}:{r.line}: {line}" if line.startswith(("PASS", "FAIL")) else line
                out.print(shown, markup=False)
        out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed", markup=False)
    if failed:
        raise typer.Exit(1)


_ACTIONS = {
    "remind": "reminders",
    "escalate": "escalations",
    "notice": "notices",
    "rectify": "rectification orders",
    "bulletin": "bulletin listings",
}


@app.command("whatif")
def whatif(
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
    text = read_text(rules_file)
    years = calendar_file_years(calendar_file) if calendar_file is not None else None
    answer = call(
        lambda ctx: rules.what_if(
            ctx, campaign=campaign, ruleset_text=text, ruleset_path=str(rules_file), calendar_years=years
        )
    )
    rec, result = answer.record, answer.result
    rs = result.ruleset
    if as_json:
        out.print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2), markup=False)
        return
    out.print(
        f"{campaign} under {rs.id} v{rs.version} ({rules_file}), as recorded up to "
        f"{rec.as_of.astimezone(CST):%Y-%m-%d %H:%M}"
        if rec.as_of
        else f"{campaign} under {rs.id} v{rs.version}",
        markup=False,
    )
    for k, label in _ACTIONS.items():
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


@app.command("explain")
def explain(obligation: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """For an obligation of a running or finished campaign: each action, the rule that fired it
    and why; then the next actions due under the rule set in force, with their dates."""
    ex = call(lambda ctx: rules.explain(ctx, obligation=obligation))
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


@app.command("install")
def install(
    campaign: str,
    rules_file: Path = typer.Argument(..., metavar="FILE"),
    by: str = typer.Option("office", "--by", help="Who installs it (for the audit trail)."),
) -> None:
    """Install a new rule set on a running campaign, through a validated Update: a rule set that
    does not parse or compile, or names a role or milestone the plan lacks, changes nothing.
    It applies to future firings only; the installation is in the audit trail."""
    text = read_text(rules_file)
    done = call(
        lambda ctx: rules.install_rules(
            ctx, actor=as_office(), campaign=campaign, ruleset_text=text, ruleset_path=str(rules_file), by=by
        )
    )
    out.print(
        f"{campaign}: installed {done.ruleset_id} v{done.version} ({done.ruleset_hash[:19]}), replacing "
        f"{done.previous_hash[:19]}; applies to firings from {done.since.astimezone(CST):%Y-%m-%d %H:%M} plan time",
        markup=False,
    )

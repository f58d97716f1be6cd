"""`duban up|worker|launch|status` and `duban plan amend`: a live campaign on the configured
Temporal and PostgreSQL (embedded by default)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

import worker as worker_module
from activities.config import Settings, get_settings
from cli import plan as plan_commands
from cli.common import as_office, call, err, out, parse_date, warn_missing, warn_open
from services import accounts, campaigns
from services.context import migrate
from services.plans import default_rules, load_plan, load_ruleset, scorebook_for
from web.serve import bind_refusal, port_free, serve_in_background


def worker() -> None:
    """Run a worker against the configured Temporal and PostgreSQL (embedded by default)."""
    asyncio.run(worker_module.run())


def up() -> None:
    """Start the embedded PostgreSQL and Temporal dev server, migrate, and run a worker."""
    settings = get_settings()
    url = asyncio.run(migrate(settings))
    out.print(f"PostgreSQL: {url}")
    address = settings.temporal_address or f"localhost:{settings.temporal_port}"
    out.print(f"Temporal: {address} (task queue {settings.task_queue})")
    _web(settings)
    out.print("worker running; Ctrl-C to stop")
    worker()


def _web(settings: Settings) -> None:
    """`duban up` serves the web door too, on loopback unless configured (and allowed) otherwise;
    on a fresh system it makes the first office account and prints its password, once."""
    host, port = settings.web_host, settings.web_port
    why = bind_refusal(host, settings)
    if why is None and not port_free(host, port):
        why = f"port {port} is in use (DUBAN_WEB_PORT)"
    if why is not None:
        err.print(f"warning: no web door: {why}", markup=False)
        return
    first = call(lambda ctx: accounts.first_office(ctx, actor=as_office()))
    serve_in_background(settings, host=host, port=port)
    out.print(f"web: http://{host}:{port}/", markup=False)
    if first is not None:
        out.print(
            f"first office login: {first[0]} / {first[1]} (change it: duban users reset {first[0]})", markup=False
        )


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
    plan = load_plan(plan_file)
    warn_open(plan_file, plan)
    ruleset = load_ruleset(rules_file or default_rules(plan), plan)
    start = parse_date(plan_from) if plan_from else None
    book = scorebook_for(plan, sheets)
    done = call(
        lambda ctx: campaigns.launch(
            ctx,
            actor=as_office(plan.joint_meeting.office),
            plan=plan,
            ruleset=ruleset,
            scorebook=book,
            campaign_id=campaign_id,
            speed=speed,
            plan_from=start,
        )
    )
    warn_missing(done.missing_years, get_settings())
    out.print(
        f"launched {done.campaign_id}: plan time now {done.plan_time:%Y-%m-%d %H:%M}, {done.clock.speed}× server time"
    )
    if done.scorebook is None:
        err.print("no score sheets for this plan (--sheets): milestones are judged on obligations alone")
    else:
        sheet_ids = ", ".join(s.id for s in done.scorebook.sheets)
        out.print(f"score sheets: {sheet_ids} ({done.scorebook.digest()[:19]})", markup=False)
    if done.push:
        out.print(
            f"e-mail and webhook pushes: sent by {done.campaign_id}/dispatch, to the contacts in {done.contacts_file}"
        )


def status(campaign: str) -> None:
    """A campaign's counts from the read side."""
    found = call(lambda ctx: campaigns.status(ctx, campaign=campaign))
    for k, v in {"campaign": found.campaign, "status": found.status, "plan": found.plan, **found.counts}.items():
        out.print(f"{k:<22}{v}")


@plan_commands.app.command("amend")
def amend(
    campaign: str,
    plan_file: Path = typer.Argument(..., metavar="FILE"),
    by: str = typer.Option("office", "--by", help="Who amends it (for the audit trail)."),
) -> None:
    """Amend a running campaign's plan (add a task, change a due date or a lead unit): its
    obligations are added, moved or withdrawn, and the amendment is on the record."""
    plan = load_plan(plan_file)  # FILE:LINE here, before anything is sent
    done = call(
        lambda ctx: campaigns.amend_plan(
            ctx, actor=as_office(), campaign=campaign, plan=plan, path=str(plan_file), by=by
        )
    )
    c = done.counts
    out.print(
        f"{campaign}: amended ({done.previous_hash[:19]} → {done.plan_hash[:19]}): {c['added']} obligations added, "
        f"{c['withdrawn']} withdrawn, {c['moved']} moved, {c['relead']} handed to another lead",
        markup=False,
    )

"""`duban demo`: rehearse a whole campaign on the time-skipping server and write what happened."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from activities import history
from activities.campaign.common import COUNTS
from activities.config import get_settings
from activities.history_cost import COST_KEYS
from cli.common import call, err, out, program, progress, warn_missing, warn_open
from services.plans import DEFAULT_PLAN, default_rules, load_plan, scorebook_for
from services.rehearsal import Rehearsal, rehearse


class _Watch:
    """The rehearsal on stderr: a spinner while the servers start, then a bar of plan time."""

    def starting(self) -> AbstractContextManager[object]:
        return err.status("starting embedded PostgreSQL and the time-skipping Temporal server…")

    @contextmanager
    def running(self, start: datetime, end: datetime) -> Iterator[Callable[[datetime], None]]:
        with progress("[bold]rehearsing[/] {task.fields[day]}", "{task.percentage:>3.0f}%", transient=False) as bar:
            task = bar.add_task("campaign", total=(end - start).total_seconds(), day=start.date().isoformat())
            yield lambda now: bar.update(task, completed=(now - start).total_seconds(), day=now.date().isoformat())


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
    done = call(
        lambda ctx: rehearse(ctx, plan=plan, rules=rules, seed=seed, silent=silent, scorebook=book, watch=_Watch())
    )
    warn_missing(done.missing_years, get_settings())
    write_outputs(out_dir, done)
    print_summary(done.summary)
    out.print(f"wrote {out_dir / 'summary.json'}, {out_dir / 'audit.jsonl'} and {len(done.histories)} histories")
    out.print(
        f"verify it: {program()} audit verify {done.summary['campaign_id']} --histories {out_dir / 'histories'}",
        markup=False,
    )


def print_summary(summary: dict[str, Any]) -> None:
    t = Table(title=f"{summary['campaign_id']} (seed {summary['seed']})", show_header=True)
    t.add_column("what")
    t.add_column("count", justify="right")
    for k in COUNTS:
        t.add_row(k, str(summary[k]))
    answered = summary.get("answers") or {}
    if answered.get("notices"):
        n = answered["notices"]
        t.add_row("notices answered", f"{n['in_time']} in time, {n['late']} late, {n['never']} never")
    if answered.get("orders"):
        ended = ", ".join(f"{v} {k}" for k, v in answered["orders"].items())
        t.add_row("orders ended", f"{ended} ({answered.get('orders_sent_back', 0)} sent back once or more)")
    for kind, k in (summary.get("assessments_by_kind") or {}).items():
        t.add_row(f"assessments: {kind}", f"{k['judged']} in {k['rounds']} rounds, {k['passed']} passed")
    eng = summary["engine"]
    # Counted from every saved history (before: from what the workflow trees reported, which
    # left the detached 责令整改 workflows out).
    for k in COST_KEYS:
        if k in eng:
            t.add_row(f"engine: {k}", str(eng[k]))
    t.add_row("wall time", f"{eng['wall_seconds']:.1f} s")
    out.print(t)


def write_outputs(out_dir: Path, done: Rehearsal) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    history.save(done.histories, out_dir / "histories", replace=True)
    (out_dir / "summary.json").write_text(json.dumps(done.summary, ensure_ascii=False, indent=2) + "\n")
    with (out_dir / "audit.jsonl").open("w", encoding="utf-8") as f:
        for line in done.trail:
            f.write(json.dumps(line.model_dump(), ensure_ascii=False) + "\n")

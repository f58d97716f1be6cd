"""The `duban` command's entry point. The commands live in `cli/`, one module per subject, and
act through `services/`; exit codes follow the one policy in `cli.common` (and README)."""

from __future__ import annotations

import typer

from cli import (
    assessments,
    audit,
    bench,
    calendar,
    campaign,
    convener,
    db,
    obligations,
    papers,
    plan,
    rectify,
    rehearsal,
    rules,
    scores,
    users,
    web,
)
from cli.common import run_app


def build() -> typer.Typer:
    """The `duban` app: every command, in the order `duban --help` lists them."""
    app = typer.Typer(
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        help="督办 duban: runs a government campaign plan from launch to final evaluation.",
    )
    for sub, name in ((plan.app, "plan"), (calendar.app, "calendar"), (audit.app, "audit"), (db.app, "db")):
        app.add_typer(sub, name=name)
    for command in (
        *(rehearsal.demo, campaign.worker, campaign.up, campaign.launch, campaign.status),
        *(obligations.ack, obligations.report, obligations.complete, obligations.extend, obligations.extension),
        *(obligations.evaluate, obligations.inbox, papers.deliveries, papers.notices, papers.notice),
        *(papers.bulletin, papers.evaluation, web.web),
    ):
        app.command()(command)
    for sub, name in (
        (scores.app, "scores"),
        (rules.app, "rules"),
        (rectify.app, "rectify"),
        (users.app, "users"),
        (convener.app, "convener"),
    ):
        app.add_typer(sub, name=name)
    app.add_typer(assessments.app, name="assessments")
    app.add_typer(bench.app, name="bench")
    return app


def main() -> None:
    """`duban` (the console script) and `python -m starter`."""
    run_app(build())


if __name__ == "__main__":
    main()

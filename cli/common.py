"""What every `duban` command shares: consoles, errors and the exit-code policy, argument
parsing, the one progress bar, and running a service.

Exit codes, one policy for every command:

- 0: done.
- 1: refused by the service (`services.errors` NotFound, Forbidden, Conflict: no such campaign,
  obligation or paper; another unit's work; twice; a closed campaign; a workflow's refusal), or a
  check failed (a plan still to fill in under --strict, a failed scenario, an audit that does not
  hold, a stored file that does not match its record).
- 2: the input could not be read or is invalid (`Invalid`; a file's `FILE:LINE: message`; bad
  usage, as typer reports it).

Never a traceback for anything a user can get wrong. The process leaves through `os._exit`
after flushing, so the Temporal client cannot turn the code into an abort (sdk-python #300).
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from activities.config import Settings, get_settings
from activities.logs import configure
from activities.servers import hard_exit
from models.plan import Plan
from models.views import PaperFile
from rules import calendar as cal
from rules.loading import SourceError
from services.actors import Actor, acting_for
from services.context import Services
from services.errors import Invalid, Refused

T = TypeVar("T")

# Piped output is read by scripts and people alike: do not cut tables at 80 columns.
# No emoji codes: "FILE:100: …" must not print as "FILE💯 …".
out = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class UserError(Exception):
    """Something the user can fix that the command finds itself (flags, files to write); printed
    as is, with its exit code (2: bad input, unless said otherwise)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def exit_code(e: SourceError | Refused | UserError) -> int:
    """The policy above, for an error that reached the top."""
    if isinstance(e, UserError):
        return e.code
    return 2 if isinstance(e, SourceError | Invalid) else 1


def run_app(app: typer.Typer) -> None:
    """Run the CLI, map errors to exit codes, and exit hard (flushed first)."""
    try:
        settings = get_settings()
    except ValidationError as e:  # a DUBAN_* variable the user set does not read: say which
        for problem in e.errors():
            where = "_".join(str(p) for p in problem["loc"]).upper()
            message = str(problem["msg"]).removeprefix("Value error, ")
            err.print(f"DUBAN_{where}: {message}" if where else message, markup=False)
        hard_exit(2)
    configure(fmt=settings.log_format, level="warning" if settings.log_level == "info" else settings.log_level)
    code = 0
    try:
        app()  # typer handles usage errors itself (exit 2) and ends in SystemExit
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (SourceError, Refused, UserError) as e:
        err.print(e.message if isinstance(e, Refused) else str(e), markup=False)
        code = exit_code(e)
    except KeyboardInterrupt:
        code = 130
    hard_exit(code)


def call(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run one service call (or a few, in `work`) on a fresh context, closed after."""

    async def go() -> T:
        async with Services() as ctx:
            return await work(ctx)

    return asyncio.run(go())


def act(unit: str | None, campaign: str, work: Callable[[Services, Actor], Awaitable[T]]) -> T:
    """`call`, as the operator acting for `unit` in `campaign`."""

    async def go(ctx: Services) -> T:
        return await work(ctx, await acting_for(ctx, account=operator(), unit=unit, campaign=campaign))

    return call(go)


def as_office(unit: str | None = None) -> Actor:
    """The operator acting as the office: campaign-wide steps (launch, amend, install rules)
    that only the office takes and that name no unit of their own."""
    return Actor(account=operator(), unit=unit, role="office")


def login() -> str:
    """The operator's login name (a container may have none)."""
    try:
        return getpass.getuser()[:100] or "cli"
    except Exception:  # no login name (a container without a passwd entry)
        return "cli"


def operator() -> str:
    """The account the command line acts as: the operator's, proven by the OS."""
    return f"cli:{login()}"


def parse_date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise UserError(f"{s!r} is not a date (YYYY-MM-DD)") from None


def parse_month(s: str) -> date:
    try:
        return datetime.strptime(s, "%Y-%m").date()
    except ValueError:
        raise UserError(f"{s!r} is not a month: write YYYY-MM, e.g. 2021-12") from None


def program() -> str:
    """How the user called us (e.g. .venv/bin/duban), for commands we suggest they run next."""
    name = Path(sys.argv[0])
    return str(name) if name.name == "duban" and name.parent != Path(".") else "duban"


def progress(label: str, count: str, *, bar: bool = True, transient: bool = True) -> Progress:
    """The progress display on stderr: a label, a bar (unless `bar` is False), a count, the time."""
    columns = [TextColumn(label), *([BarColumn()] if bar else []), TextColumn(count), TimeElapsedColumn()]
    # Twice a second, not rich's ten: each refresh redraws in this process, under the GIL the
    # rehearsal's worker needs (at ten it took ~1 s CPU of a ~24 s demo); a person sees no difference.
    return Progress(*columns, console=err, transient=transient, refresh_per_second=2)


def warn_open(path: Path, plan: Plan) -> None:
    """Before running a plan with fields left to fill in: say so, once."""
    if plan.open_fields:
        err.print(
            f"[yellow]warning:[/] {path}: {len(plan.open_fields)} fields still to fill in, running on their "
            f"fallbacks (`{program()} plan check {path}` lists them)"
        )


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


def write_files(what: str, files: dict[str, PaperFile], wanted: dict[str, Path | None]) -> None:
    """Write the stored files asked for (already checked against their SHA-256), saying so on stderr."""
    written = []
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
        written.append(f"wrote {path} ({len(f.content):,} bytes, sha256 {f.sha256})")
    for line in written:
        err.print(line, markup=False)


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None

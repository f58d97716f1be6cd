"""`duban calendar shift|show`: China's official working days (调休 included)."""

from __future__ import annotations

import typer

from activities.config import get_settings
from cli.common import UserError, out, parse_date, warn_missing
from rules import calendar as cal
from services.plans import load_calendar

app = typer.Typer(no_args_is_help=True, help="China's official working days (调休 included).")


@app.command("shift", context_settings={"ignore_unknown_options": True})
def shift(day: str = typer.Argument(..., metavar="DATE"), n: int = typer.Argument(..., metavar="N")) -> None:
    """Print the date N official working days after DATE (before it, if N < 0)."""
    d = parse_date(day)
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


@app.command("show")
def show(year: int = typer.Argument(..., min=1900, max=2100, metavar="YEAR")) -> None:
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

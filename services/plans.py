"""Plans, rule sets, score sheets and calendars read from files, as every door and test loads them.

Problems with a file are `SourceError` (`FILE:LINE: message`) or `Invalid` (no such file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from activities.config import ROOT, Settings, get_settings
from activities.source_files import read_source, referenced
from models.assessment import ScoreBook
from models.calendar import CalendarData, YearCalendar
from models.payloads import CampaignInput
from models.plan import Plan, UnitDirectory
from models.ruleset import RuleSet
from models.views import FieldToFill
from rules import calendar as cal
from rules.launch import calendar_years, campaign_input
from rules.loading import (
    SourceError,
    directory_reference,
    open_field_lines,
    parse_directory,
    parse_plan,
    parse_ruleset,
    parse_yaml,
)
from rules.plan_size import too_large
from rules.scoresheets import parse_scorebook
from services.errors import Invalid

DEFAULT_PLAN = ROOT / "plans" / "suixian-2021.yaml"
SHEETS_DIR = ROOT / "plans" / "scoresheets"
DEFAULT_SHEETS = SHEETS_DIR / "suixian.yaml"
DEFAULT_UNITS = ROOT / "plans" / "units" / "suixian.yaml"
RULESETS = ROOT / "rules" / "rulesets"
DEFAULT_RULES = RULESETS / "suixian-default.yaml"


def read_text(path: Path) -> str:
    """A source file's text, within bounds (`activities.source_files`)."""
    try:
        return read_source(path)
    except FileNotFoundError:
        raise Invalid(f"{path}: no such file") from None
    except IsADirectoryError:
        raise Invalid(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise Invalid(f"{path}: not readable (permission denied)") from None
    except OSError as e:  # a name too long, a loop of links: nothing a plan can be read from
        raise Invalid(f"{path}: cannot be read ({e.strerror or e})") from None


def load_directory(path: Path) -> UnitDirectory:
    return parse_directory(read_text(path), path=str(path))


def load_plan(path: Path, *, max_obligations: int | None = None) -> Plan:
    """A plan and the unit directory it names (in its folder), refused when it makes more
    obligations than `max_obligations` (default: Settings.max_obligations)."""
    text = read_text(path)
    ref, line = directory_reference(text, path=str(path))
    dpath = referenced(path, ref, line=line)
    plan = parse_plan(text, path=str(path), directory=load_directory(dpath))
    limit = get_settings().max_obligations if max_obligations is None else max_obligations
    if why := too_large(plan, limit):
        raise SourceError(str(path), _line_of_tasks(text), why)
    return plan


def _line_of_tasks(text: str) -> int:
    m = re.search(r"^tasks:", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def to_fill(path: Path, plan: Plan) -> list[FieldToFill]:
    """The plan's fields left to fill in, in file order."""
    units = plan.directory.by_id()
    found = []
    for line, f in open_field_lines(plan, read_text(path) if plan.open_fields else "", path=str(path)):
        if f.fallback in units:
            shown = f"{units[f.fallback].name} ({f.fallback})"
        else:
            shown = f"{f.fallback}, {f.because}" if f.fallback else f.because
        found.append(
            FieldToFill(
                line=line, field=f.field, what=f.what, fallback=f.fallback, until_filled=shown, because=f.because
            )
        )
    return found


def load_ruleset(path: Path, plan: Plan | None = None) -> RuleSet:
    return parse_ruleset(read_text(path), path=str(path), plan=plan)


def default_rules(plan: Plan) -> Path:
    """A plan's shipped rule set (`rules/rulesets/<place>-default.yaml`, e.g. changhe-default
    for changhe-2021), else the 随县 one."""
    own = RULESETS / f"{plan.id.split('-')[0]}-default.yaml"
    return own if own.is_file() else DEFAULT_RULES


def load_scorebook(path: Path, plan: Plan | None = None) -> ScoreBook:
    return parse_scorebook(read_text(path), path=str(path), plan=plan)


def scorebook_for(plan: Plan, path: Path | None) -> ScoreBook | None:
    """The score sheets a campaign of the plan is assessed on: the file given, else the file in
    plans/scoresheets/ written for the plan (its `plan:` is the plan's id), else none (milestones
    are then judged on the obligations alone)."""
    if path is not None:
        return load_scorebook(path, plan)
    for f in sorted(SHEETS_DIR.glob("*.yaml")):
        text = read_text(f)
        m = re.search(r"^plan:\s*([\w-]+)\s*(?:#.*)?$", text, re.MULTILINE)
        if m and m[1] == plan.id:
            return parse_scorebook(text, path=str(f), plan=plan)
    return None


def calendar_file_years(path: Path) -> dict[int, YearCalendar]:
    """The years a calendar file gives."""
    data, _ = parse_yaml(read_text(path), path=str(path))
    try:
        return cal.parse_calendar_file(data, path=str(path))
    except ValueError as e:
        raise Invalid(str(e)) from None


def load_calendar(settings: Settings, years: range) -> tuple[CalendarData, list[int]]:
    """Calendar data for the years, and the years no source knows (to warn about)."""
    path = settings.calendar_file
    data = cal.build(years, calendar_file_years(path) if path.is_file() else {})
    return data, [y for y in years if y not in data.known_years]


@dataclass
class Launch:
    input: CampaignInput
    plan: Plan
    missing_years: list[int]


def prepare(
    plan: Plan,
    rules: Path | RuleSet,
    *,
    campaign_id: str,
    server_now: datetime,
    live: bool,
    speed: int = 1,
    plan_from: date | None = None,
    scorebook: ScoreBook | None = None,
    push: bool = False,
    settings: Settings | None = None,
    arm_ahead_seconds: int = 0,
) -> Launch:
    """`rules.launch.campaign_input` with the rule set (read from `rules` when it is a file) and the
    calendar from the packaged data and the settings' calendar file. `arm_ahead_seconds`: for a
    campaign on a server whose clock is the database's (not a time-skipping rehearsal), how long
    before its instant a unit arms its inbox-only reminders (`CampaignContext.arm_ahead_seconds`)."""
    ruleset = load_ruleset(rules, plan) if isinstance(rules, Path) else rules
    data, missing = load_calendar(settings or get_settings(), calendar_years(plan))
    inp = campaign_input(
        plan,
        ruleset,
        data,
        campaign_id=campaign_id,
        server_now=server_now,
        live=live,
        speed=speed,
        plan_from=plan_from,
        scorebook=scorebook,
        push=push,
    )
    if arm_ahead_seconds:
        ctx = inp.context.model_copy(update={"arm_ahead_seconds": arm_ahead_seconds})
        inp = inp.model_copy(update={"context": ctx})
    return Launch(input=inp, plan=plan, missing_years=missing)

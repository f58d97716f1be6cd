"""Reading a score-sheet file (plans/scoresheets/*.yaml): YAML text in, a `ScoreBook` out.

Every problem is a `SourceError` at its line, as for plans and rule sets. Pure: the caller reads
the file and passes its text (and, to check milestone ids and task numbers, the plan).
"""

from __future__ import annotations

import re
from typing import Any

from models.assessment import ScoreBook
from models.plan import Plan
from rules.loading import Path, SourceError, parse_yaml, validate


def _locator(data: dict[str, Any]) -> Any:
    raw = data.get("sheets")
    sheets = [s if isinstance(s, dict) else {} for s in raw] if isinstance(raw, list) else []

    def index(sheet_id: str) -> int | None:
        hits = [i for i, s in enumerate(sheets) if s.get("id") == sheet_id]
        return hits[-1] if hits else None

    def locate(msg: str) -> Path:
        if m := re.search(r"sheet id '([^']*)' appears twice", msg):
            i = index(m[1])
            return ("sheets", i, "id") if i is not None else ("sheets",)
        if "commendation milestone" in msg:
            ev = data.get("evaluation")
            has = isinstance(ev, dict) and "commendation_milestone" in ev
            return ("evaluation", "commendation_milestone") if has else ("evaluation",)
        if "evaluation weights" in msg:
            return ("evaluation",)
        m = re.search(r"sheet (\w+): (.*)", msg)
        if not m or (i := index(m[1])) is None:
            return ()
        what = m[2]
        if c := re.search(r"criterion id '([^']*)' appears twice", what):
            crit = sheets[i].get("criteria") or []
            hits = [j for j, x in enumerate(crit) if isinstance(x, dict) and x.get("id") == c[1]]
            return ("sheets", i, "criteria", hits[-1], "id") if hits else ("sheets", i, "criteria")
        for word, key in (
            ("weights", "criteria"),
            ("pass mark", "pass_mark"),
            ("re-checked", "recheck_working_days"),
            ("date", "dates"),
        ):
            if word in what and key in sheets[i]:
                return ("sheets", i, key)
        if "milestone" in what:
            return ("sheets", i, "milestone") if "milestone" in sheets[i] else ("sheets", i, "kind")
        return ("sheets", i)

    return locate


def parse_scorebook(text: str, *, path: str, plan: Plan | None = None) -> ScoreBook:
    """Parse and validate a score-sheet file; with `plan`, also check it names that plan's
    milestones and tasks."""
    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a score-sheet file is a mapping (plan, evaluation, sheets)")
    book = validate(ScoreBook, data, path=path, lines=lines, locate=_locator(data))
    if plan is not None:
        _check_plan(book, plan, path=path, lines=lines)
    return book


def _check_plan(book: ScoreBook, plan: Plan, *, path: str, lines: dict[Path, int]) -> None:
    if book.plan != plan.id:
        raise SourceError(path, lines.get(("plan",), 1), f"plan: the sheets are for {book.plan!r}, not {plan.id!r}")
    milestones = {m.id for p in plan.phases for m in p.milestones}
    tasks = {t.no for t in plan.tasks}
    units = {u.id for u in plan.directory.units}
    for i, u in enumerate(book.scored):
        if u not in units:
            raise SourceError(path, lines.get(("scored", i), 1), f"scored: the plan's directory has no unit {u!r}")
    for i, s in enumerate(book.sheets):
        if s.milestone is not None and s.milestone not in milestones:
            raise SourceError(
                path, lines[("sheets", i, "milestone")], f"sheet {s.id}: unknown milestone {s.milestone!r}"
            )
        for j, c in enumerate(s.criteria):
            at = ("sheets", i, "criteria", j)
            if c.milestone is not None and c.milestone not in milestones:
                raise SourceError(
                    path,
                    lines[(*at, "milestone")],
                    f"sheet {s.id}: criterion {c.id}: unknown milestone {c.milestone!r}",
                )
            for k, no in enumerate(c.tasks):
                if no not in tasks:
                    raise SourceError(path, lines[(*at, "tasks", k)], f"sheet {s.id}: criterion {c.id}: no task {no}")

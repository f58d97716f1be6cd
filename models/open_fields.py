"""Fields a plan's text leaves to fill in: the `{to_fill: …}` marker, the `OpenField` recorded for
each, and the fallbacks a plan runs with meanwhile (see docs/ARCHITECTURE.md, "Plans with fields
left to fill in").
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

from pydantic import (
    Field,
    ValidationError,
)

from models.frozen import Frozen

TO_FILL_TEXT = "待填"
"""What an open text field (issuer, notice prefix, phase title) reads until the office fills it
in: a 督办通知 is then numbered 待填〔2021〕1号, visibly not a real number."""


class ToFill(Frozen):
    """A value the plan's text does not give, left for the office to fill in.

    Written in the plan file in place of the value: `lead: {to_fill: "牵头单位：原文未明确"}`;
    a date the text gives only as a year also names it: `due: {to_fill: "…", year: 2021}`.
    The plan still parses and runs: the field takes an explicit fallback, recorded as an
    `OpenField` on the plan (see `Plan.open_fields`), never a guessed real value.
    """

    to_fill: str = Field(min_length=1)
    """What is missing, and why (in the office's words)."""
    year: int | None = Field(default=None, ge=1900, le=2100)
    """Dates only: the year the text gives ("到2030年")."""


class OpenField(Frozen):
    """A field left to fill in, and the value the plan runs with until then."""

    at: tuple[str | int, ...]
    """Where in the plan file, e.g. ("tasks", 3, "lead")."""
    field: str
    """In words, e.g. "task 4 lead"."""
    what: str
    """The file's to_fill text."""
    fallback: str
    """The value used meanwhile, as text: a date, a unit id, 待填, or "" for no units."""
    because: str
    """That value in words: "the last day of 2021", "the office", "no unit but the lead"."""


Path = tuple[str | int, ...]


def _is_marker(v: object) -> bool:
    return isinstance(v, dict) and "to_fill" in v


def markers(v: object, at: Path) -> Iterator[Path]:
    """Where `{to_fill: …}` stands in raw plan data."""
    if _is_marker(v):
        yield at
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from markers(x, (*at, k))
    elif isinstance(v, list | tuple):
        for i, x in enumerate(v):
            yield from markers(x, (*at, i))


def _dotted(at: Path) -> str:
    return ".".join(str(p) for p in at)


def _as_date(v: object) -> date | None:
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v)
        except ValueError:
            return None
    return None


def resolve_open_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Raw plan data with each `{to_fill: …}` replaced by its fallback and recorded.

    Fallbacks: an open lead unit is the leading group's office (joint_meeting.office), which
    also receives what is escalated "to the lead"; open responsible units are none but the lead;
    an open duty's units are the office; an open date runs on the first (start) or last (end,
    due) day of the year the marker names, and an open issue date on the first phase's start;
    an open issuer, notice prefix or phase title reads 待填. A marker anywhere else is an
    error: the plan cannot run without that value.
    """
    out = copy.deepcopy(data)
    found: list[OpenField] = []

    def take(holder: Any, key: str, at: Path, *, dated: bool = False) -> ToFill | None:
        if not isinstance(holder, dict) or not _is_marker(holder.get(key)):
            return None
        try:
            marker = ToFill.model_validate(holder[key])
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"{_dotted(at)}: to_fill: {where + ': ' if where else ''}{first['msg']}") from None
        if marker.year is not None and not dated:
            raise ValueError(f"{_dotted(at)}: to_fill: `year` is for dates only")
        return marker

    def record(at: Path, field: str, marker: ToFill, fallback: str, because: str) -> None:
        found.append(OpenField(at=at, field=field, what=marker.to_fill, fallback=fallback, because=because))

    def open_date(holder: Any, key: str, at: Path, field: str, *, end: bool) -> None:
        marker = take(holder, key, at, dated=True)
        if marker is None:
            return
        if marker.year is None:
            raise ValueError(f"{_dotted(at)}: an open date needs `year:` (the year the text gives) to run on")
        value = date(marker.year, 12, 31) if end else date(marker.year, 1, 1)
        holder[key] = value
        record(at, field, marker, value.isoformat(), f"the {'last' if end else 'first'} day of {marker.year}")

    jm = out.get("joint_meeting")
    office = jm.get("office") if isinstance(jm, dict) else None

    def office_or_fail(at: Path) -> str:
        if not isinstance(office, str):
            raise ValueError(f"{_dotted(at)}: an open unit falls back to joint_meeting.office, which must be given")
        return office

    phases = out.get("phases")
    for i, p in enumerate(phases if isinstance(phases, list) else []):
        name = p.get("name") if isinstance(p, dict) else i
        if marker := take(p, "title", ("phases", i, "title")):
            p["title"] = TO_FILL_TEXT
            record(("phases", i, "title"), f"phase {name} title", marker, TO_FILL_TEXT, "a placeholder")
        open_date(p, "start", ("phases", i, "start"), f"phase {name} start", end=False)
        open_date(p, "end", ("phases", i, "end"), f"phase {name} end", end=True)
        ms = p.get("milestones") if isinstance(p, dict) else None
        for j, m in enumerate(ms if isinstance(ms, list) else []):
            mid = m.get("id") if isinstance(m, dict) else j
            open_date(m, "due", ("phases", i, "milestones", j, "due"), f"milestone {mid} due", end=True)
        ds = p.get("duties") if isinstance(p, dict) else None
        for j, d in enumerate(ds if isinstance(ds, list) else []):
            did = d.get("id") if isinstance(d, dict) else j
            open_date(d, "due", ("phases", i, "duties", j, "due"), f"duty {did} due", end=True)
            at = ("phases", i, "duties", j, "units")
            if marker := take(d, "units", at):
                d["units"] = [office_or_fail(at)]
                record(at, f"duty {did} units", marker, office_or_fail(at), "the office")

    if marker := take(out, "issued", ("issued",), dated=True):
        starts = [s for p in (phases if isinstance(phases, list) else []) if (s := _as_date(p.get("start")))]
        if marker.year is not None:
            out["issued"], because = date(marker.year, 1, 1), f"the first day of {marker.year}"
        elif starts:
            out["issued"], because = min(starts), "the first phase's start"
        else:
            raise ValueError("issued: an open issue date needs `year:` or a phase start to run on")
        record(("issued",), "issued", marker, out["issued"].isoformat(), because)
    for key in ("issuer", "notice_prefix"):
        if marker := take(out, key, (key,)):
            out[key] = TO_FILL_TEXT
            record((key,), key, marker, TO_FILL_TEXT, "a placeholder")

    tasks = out.get("tasks")
    for i, t in enumerate(tasks if isinstance(tasks, list) else []):
        no = t.get("no") if isinstance(t, dict) else i
        if marker := take(t, "lead", ("tasks", i, "lead")):
            t["lead"] = office_or_fail(("tasks", i, "lead"))
            record(("tasks", i, "lead"), f"task {no} lead", marker, t["lead"], "the office")
        if marker := take(t, "responsible", ("tasks", i, "responsible")):
            t["responsible"] = []
            record(("tasks", i, "responsible"), f"task {no} responsible", marker, "", "no unit but the lead")

    for left in markers(out, ()):
        raise ValueError(f"{_dotted(left)}: cannot be left to fill in: the plan needs a value here")
    out["open_fields"] = [*(out.get("open_fields") or ()), *found]
    return out

"""楚天杯 for individuals: the people the office nominates (the plan recommends towns and
individuals; the towns come from the evaluation's ranking, the people from the office)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from models.frozen import Frozen
from models.plan import UnitId


class Nomination(Frozen):
    person: str = Field(min_length=1, max_length=40)
    unit_id: UnitId
    """The unit the person works for (a town, a department)."""
    title: str = Field(default="", max_length=60)
    """职务, as the report prints it after the unit's name."""
    reason: str = Field(min_length=1, max_length=300)
    """事迹: why, in a sentence."""
    nominated_on: date
    by: str
    """The account that nominated (cli:<login>, web:<name>)."""

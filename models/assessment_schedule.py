"""When the plan's assessments are held: how often (`Every`, set on a score sheet) and each
round the schedule gives (`Occasion`), as `rules.assessment_schedule` works them out."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from models.frozen import Frozen
from models.plan import AssessmentKind


class Every(StrEnum):
    """How often a scheduled assessment is held (the plan's 日常督导、定期开展…)."""

    month = "month"
    quarter = "quarter"
    half_year = "half_year"
    year = "year"


class Occasion(Frozen):
    """One scheduled round of an assessment: held on `on`, judging the scores dated from `since`."""

    kind: AssessmentKind
    sheet_id: str
    name: str
    round: str
    """The round's name, unique per sheet: 2021-05 (a month), 2021-Q3, 2021-H2, 2021, or the set date."""
    on: date
    since: date
    """Scores dated on or after this day (and by `on`) count for the round."""

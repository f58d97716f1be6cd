"""Assessments (考核) as data: score sheets, entered scores, and the comprehensive evaluation.

The plan's 考核 line reads "日常督导、拉练检查、年度总评、达标验收"; each is a `ScoreSheet` kind.
A sheet's criteria carry weights that sum to 100 (see `ScoreSheet`), each criterion is scored on
its own scale (`max_points`), and the sheet's score is the weighted sum on 0–100.

Pure pydantic: inputs and outputs of `rules.scoring`, small enough to pass through Temporal.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from models.assessment_schedule import Every
from models.commendation import Nomination
from models.frozen import Frozen
from models.plan import AssessmentKind, Unit, UnitDirectory, UnitId, content_hash

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=31)]
"""A sheet or criterion id. 31 characters at most: a sheet id is also its Excel worksheet's title."""

WEIGHT_TOTAL = 100.0
RECHECK_WORKING_DAYS = 20
"""A failed acceptance is re-checked this many working days later unless its sheet says otherwise
(the plan names no interval: about a month, the office's choice)."""
_EPS = 1e-6
_SCHEDULE_FIELDS = ("every", "day", "sample", "until")


class Criterion(Frozen):
    """One line of a score sheet (评分项)."""

    id: Key
    name: str = Field(min_length=1)
    weight: float = Field(gt=0, allow_inf_nan=False)
    """Share of the sheet's 100 points."""
    max_points: float = Field(gt=0, allow_inf_nan=False)
    """The scale the assessor scores this criterion on (满分)."""
    milestone: Key | None = None
    """The milestone (basic / model) whose standard this criterion checks, if one."""
    tasks: tuple[int, ...] = ()
    """The plan's numbered tasks the criterion looks at, for the record and for 长效管理 items."""
    standard: str | None = None
    """What the assessor looks for, in the plan's words."""


class ScoreSheet(Frozen):
    """A score sheet (评分表) of one assessment kind.

    Weights must sum to 100 rather than being normalised: the file then reads like the scoring
    rules the office publishes (分值 out of 100), and a mistyped weight stops the load instead of
    silently rescaling every town's score.
    """

    id: Key
    name: str = Field(min_length=1)
    kind: AssessmentKind
    milestone: Key | None = None
    """Acceptance (达标验收) only: the milestone this sheet judges (basic → 基础型, model → 示范型)."""
    dates: tuple[date, ...] = ()
    """Field inspection (拉练检查) only: the set dates it is held on; a score must carry one of them."""
    every: Every | None = None
    """Not acceptance: held once a period of the working phases (to `until`), on `day` of the
    period's last month (moved onto a working day), or unset, the period's last working day."""
    day: int | None = Field(default=None, ge=1, le=28)
    sample: int | None = Field(default=None, ge=1)
    """Routine only: towns drawn per round (日常督导's 抽查), seeded by campaign and round; unset, all."""
    until: date | None = None
    """With `every`: no round after this date (a plan with a distant horizon names no end)."""
    pass_mark: float = Field(allow_inf_nan=False)
    """On the sheet's 0–100 scale; a unit passes with a (rounded) score at or above it."""
    recheck_working_days: int | None = Field(default=None, ge=1, le=250)
    """Acceptance only: a town failing it is ordered to rectify (责令整改) and re-checked (复查) this
    many official working days after the acceptance; unset, `RECHECK_WORKING_DAYS`."""
    criterion_pass_percent: float = Field(default=60.0, ge=0, le=100, allow_inf_nan=False)
    """A criterion scored below this share of its max points counts as failed (不达标项)."""
    criteria: tuple[Criterion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ScoreSheet:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"sheet {self.id}: criterion id {c.id!r} appears twice")
            seen.add(c.id)
        total = math.fsum(c.weight for c in self.criteria)
        if abs(total - WEIGHT_TOTAL) > _EPS:
            raise ValueError(f"sheet {self.id}: criterion weights sum to {total:g}, not {WEIGHT_TOTAL:g}")
        if not 0 <= self.pass_mark <= WEIGHT_TOTAL:
            raise ValueError(f"sheet {self.id}: pass mark {self.pass_mark:g} is outside 0–{WEIGHT_TOTAL:g}")
        if self.kind == AssessmentKind.acceptance and self.milestone is None:
            raise ValueError(f"sheet {self.id}: an acceptance sheet names the milestone it judges")
        if self.kind != AssessmentKind.acceptance and self.milestone is not None:
            raise ValueError(f"sheet {self.id}: only an acceptance sheet judges a milestone")
        if self.kind == AssessmentKind.field_inspection and not self.dates and self.every is None:
            raise ValueError(f"sheet {self.id}: a field inspection is held on set dates (dates:) or `every`")
        if self.kind != AssessmentKind.acceptance and self.recheck_working_days is not None:
            raise ValueError(f"sheet {self.id}: only an acceptance sheet is re-checked (recheck_working_days)")
        if self.kind != AssessmentKind.field_inspection and self.dates:
            raise ValueError(f"sheet {self.id}: only a field inspection has set dates")
        if self.every is not None and (self.kind == AssessmentKind.acceptance or self.dates):
            raise ValueError(f"sheet {self.id}: an acceptance or a sheet with set dates has no `every`")
        if self.every is None and (self.day is not None or self.until is not None):
            raise ValueError(f"sheet {self.id}: `day` and `until` go with `every`")
        if self.sample is not None and self.kind != AssessmentKind.routine:
            raise ValueError(f"sheet {self.id}: only routine supervision samples towns (sample)")
        if len(set(self.dates)) != len(self.dates):
            raise ValueError(f"sheet {self.id}: a date appears twice")
        return self

    @property
    def recheck_days(self) -> int:
        return self.recheck_working_days or RECHECK_WORKING_DAYS

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)


class EvaluationWeights(Frozen):
    """How the comprehensive evaluation (综合评价) weighs its three parts, and its cut-offs.

    The part weights sum to 100, like a sheet's. Each part is a score on 0–100:
    timeliness = share of due obligations completed on time; rectification = 100 less a penalty
    per order received and a further one per order still open (floor 0); assessment = the mean
    of the unit's sheet scores.
    """

    timeliness: float = Field(default=40, ge=0, allow_inf_nan=False)
    rectification: float = Field(default=20, ge=0, allow_inf_nan=False)
    assessment: float = Field(default=40, ge=0, allow_inf_nan=False)
    order_penalty: float = Field(default=10, ge=0, allow_inf_nan=False)
    """Points off the rectification part for each 责令整改 order received."""
    open_order_penalty: float = Field(default=20, ge=0, allow_inf_nan=False)
    """Further points off for each order not resolved."""
    commendations: int = Field(default=3, ge=0)
    """楚天杯: how many towns to recommend at most."""
    commendation_milestone: Key = "model"
    """A recommended town has passed this milestone's acceptance (示范型)."""
    bottom: int = Field(default=3, ge=0)
    """The last N of the ranking are laggards (as well as any town that failed a milestone)."""
    long_term_items: int = Field(default=5, ge=0)
    """长效管理: how many of the most often failed criteria to list."""

    @model_validator(mode="after")
    def _sum(self) -> EvaluationWeights:
        total = math.fsum((self.timeliness, self.rectification, self.assessment))
        if abs(total - WEIGHT_TOTAL) > _EPS:
            raise ValueError(f"evaluation weights sum to {total:g}, not {WEIGHT_TOTAL:g}")
        return self


class ScoreBook(Frozen):
    """A county's score sheets and evaluation weights: one file (plans/scoresheets/*.yaml)."""

    plan: str
    """The plan id the sheets belong to (milestone ids are that plan's)."""
    exclude_seat: bool = True
    """Score the towns the plan covers: 建制镇（不含城关镇） leaves the seat town out."""
    scored: tuple[UnitId, ...] = ()
    """The units scored, when not the towns (a town's own plan scores the office doing its work)."""
    evaluation: EvaluationWeights = EvaluationWeights()
    sheets: tuple[ScoreSheet, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ScoreBook:
        seen: set[str] = set()
        for s in self.sheets:
            if s.id in seen:
                raise ValueError(f"sheet id {s.id!r} appears twice")
            seen.add(s.id)
        milestones = {s.milestone for s in self.sheets if s.milestone}
        if self.evaluation.commendations and self.evaluation.commendation_milestone not in milestones:
            raise ValueError(
                f"evaluation: no acceptance sheet judges the commendation milestone "
                f"{self.evaluation.commendation_milestone!r}"
            )
        return self

    def sheet(self, sheet_id: str) -> ScoreSheet:
        for s in self.sheets:
            if s.id == sheet_id:
                return s
        raise KeyError(sheet_id)

    def acceptance(self, milestone: str) -> ScoreSheet | None:
        """The acceptance sheet judging a milestone (the first, if several)."""
        return next((s for s in self.sheets if s.kind == AssessmentKind.acceptance and s.milestone == milestone), None)

    def of_kind(self, kind: AssessmentKind) -> ScoreSheet | None:
        return next((s for s in self.sheets if s.kind == kind), None)

    def units_in_scope(self, directory: UnitDirectory) -> tuple[Unit, ...]:
        """The towns, farms and scenic areas scored (or the units `scored` names), in directory order."""
        if self.scored:
            return tuple(u for u in directory.units if u.id in self.scored)
        return tuple(u for u in directory.units if u.kind.is_local and not (self.exclude_seat and u.seat))

    def digest(self) -> str:
        """Pinned beside every stored score, so a score is always read against its own sheet.
        Fields added since (schedules, `scored`) count only when set: a book written before them
        keeps its hash."""
        data = self.model_dump(mode="json")
        if not data["scored"]:
            del data["scored"]
        for s in data["sheets"]:
            for k in _SCHEDULE_FIELDS:
                if s[k] is None:
                    del s[k]
        return content_hash(data)


# -- scores -----------------------------------------------------------------------------------------


class ScoreRecord(Frozen):
    """One unit's scores on one sheet, as an assessor entered them: validated against the sheet."""

    sheet_id: Key
    unit_id: UnitId
    assessor: str = Field(min_length=1, max_length=64)
    assessed_on: date
    points: dict[str, float]
    """Criterion id → points, every criterion of the sheet, 0 ≤ points ≤ max."""
    findings: tuple[str, ...] = ()
    """What the assessors found (问题清单), chiefly from 拉练检查."""
    source: str = "cli"
    """Where it came from: "cli", or "FILE.xlsx:ROW" for an imported row."""

    @field_validator("points")
    @classmethod
    def _finite(cls, v: dict[str, float]) -> dict[str, float]:
        for k, p in v.items():
            if not math.isfinite(p) or p < 0:
                raise ValueError(f"points for {k!r} must be a number ≥ 0, not {p!r}")
        return v


class CriterionScore(Frozen):
    criterion_id: str
    points: float
    max_points: float
    weight: float
    weighted: float
    """points / max_points × weight: this criterion's share of the sheet's 100."""
    failed: bool
    """Below the sheet's criterion_pass_percent of max_points."""


class SheetScore(Frozen):
    """A record scored: the weighted total (0–100, two decimals) and whether it passes."""

    sheet_id: str
    unit_id: str
    assessed_on: date
    total: float
    passed: bool
    criteria: tuple[CriterionScore, ...]


class CellError(Frozen):
    """A bad cell of an imported workbook: `cell` is "B7", or "1:1" for a whole row."""

    cell: str
    message: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.message}"


class ScoreImport(Frozen):
    """All or nothing: either every row's record, or every bad cell (and no records)."""

    records: tuple[ScoreRecord, ...] = ()
    errors: tuple[CellError, ...] = ()

    @model_validator(mode="after")
    def _either(self) -> ScoreImport:
        if self.records and self.errors:
            raise ValueError("an import with bad cells imports nothing")
        return self

    @property
    def ok(self) -> bool:
        return not self.errors


# -- the comprehensive evaluation (综合评价) ---------------------------------------------------------


class UnitFacts(Frozen):
    """What the campaign's record says of one unit in scope, as of the evaluation."""

    unit_id: UnitId
    obligations_due: int = Field(default=0, ge=0)
    on_time: int = Field(default=0, ge=0)
    """Of the due obligations, those completed by their due date."""
    orders_received: int = Field(default=0, ge=0)
    """责令整改 orders."""
    orders_resolved: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _counts(self) -> UnitFacts:
        if self.on_time > self.obligations_due:
            raise ValueError(f"{self.unit_id}: {self.on_time} on time out of {self.obligations_due} due")
        if self.orders_resolved > self.orders_received:
            raise ValueError(f"{self.unit_id}: {self.orders_resolved} orders resolved of {self.orders_received}")
        return self

    @property
    def open_orders(self) -> int:
        return self.orders_received - self.orders_resolved


class EvaluationInput(Frozen):
    sheets: tuple[ScoreSheet, ...]
    weights: EvaluationWeights = EvaluationWeights()
    units: tuple[UnitFacts, ...]
    """Every unit in scope, once."""
    scores: tuple[ScoreRecord, ...] = ()


class TownEvaluation(Frozen):
    rank: int
    """1-based position: total descending, ties broken by unit id."""
    unit_id: str
    total: float
    timeliness: float
    rectification: float
    assessment: float
    sheets: dict[str, float]
    """Sheet id → the unit's score on it: the latest for acceptance and annual review (a re-check
    replaces), the mean for routine and field inspection (every visit counts)."""
    meets: tuple[str, ...]
    """Milestones whose acceptance the unit passed (latest acceptance record)."""
    failed: tuple[str, ...]
    """Milestones whose acceptance was held and the unit did not pass (or was not scored in)."""
    open_orders: int


class Laggard(Frozen):
    unit_id: str
    reasons: tuple[str, ...]
    """"bottom" (of the ranking) and/or "failed:MILESTONE"."""


class LongTermItem(Frozen):
    """A criterion often failed: an item for 长效管理."""

    sheet_id: str
    criterion_id: str
    name: str
    failed: int
    """Records in which it was failed."""
    scored: int
    """Records that scored it."""
    units: tuple[str, ...]
    """Units that failed it at least once, by id."""


class Evaluation(Frozen):
    towns: tuple[TownEvaluation, ...]
    """In rank order."""
    standards: dict[str, tuple[str, ...]]
    """Milestone → units meeting it (passed acceptance), in rank order."""
    laggards: tuple[Laggard, ...]
    """In rank order."""
    commended: tuple[str, ...]
    """Recommended for 楚天杯, in rank order."""
    long_term: tuple[LongTermItem, ...]

    @property
    def ranking(self) -> tuple[str, ...]:
        return tuple(t.unit_id for t in self.towns)


class EvaluationRecord(Frozen):
    """The comprehensive evaluation as stored (JSON) and put on the audit record: what it was
    computed from (each town's facts, the scores counted) and what it found."""

    campaign_id: str
    as_of: date
    """The evaluation date: obligations due by then count, scores dated by then count."""
    scorebook_hash: str
    provisional: bool = False
    """Computed on request before the evaluation phase ended; never stored."""
    names: dict[str, str]
    """Unit id → name, for every town in scope."""
    facts: tuple[UnitFacts, ...]
    scores: int = Field(ge=0)
    """Stored score records counted (corrections replace what they correct)."""
    evaluation: Evaluation
    nominees: tuple[Nomination, ...] = ()
    """楚天杯: the individuals the office nominated (towns: `evaluation.commended`)."""

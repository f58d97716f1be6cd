"""The plan (实施方案) as data: categories, tasks, units, phases, milestones, assessments.

Pure pydantic: validation here is everything a plan file can get wrong on its own. The unit
directory is a separate file so that one directory serves every plan of the county.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from models.frozen import Frozen
from models.open_fields import OpenField, markers, resolve_open_fields

UnitId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]


def _without_empty(data: Any, fields: tuple[str, ...]) -> Any:
    """A dump without the named fields where they hold their empty default.

    Fields added to a model after plans were launched are left out of its dump while unused, so
    an existing plan's content hash (pinned in running campaigns and audit rows) and the
    payloads in their saved histories stay byte for byte what they were.
    """
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (k in fields and v in (None, (), []))}
    return data


class UnitKind(StrEnum):
    """What a unit is: a county agency, or one of the 各镇、场、景区."""

    agency = "agency"
    town = "town"
    farm = "farm"
    scenic_area = "scenic_area"
    office = "office"  # the joint meeting's office (联席会议办公室 / 领导小组办公室)
    convener = "convener"  # 召集人 (分管副县长)

    @property
    def is_local(self) -> bool:
        """Towns, farms and scenic areas: the '各镇、场、景区' a plan expands."""
        return self in (UnitKind.town, UnitKind.farm, UnitKind.scenic_area)


class Unit(Frozen):
    id: UnitId
    name: str = Field(min_length=1)
    kind: UnitKind
    seat: bool = False
    """The county seat town (城关镇 in the plan's words), which the 随县 plan leaves out of scope."""
    note: str | None = None


class UnitDirectory(Frozen):
    """A county's units. The office keeps it; plans name units by id from it."""

    region: str
    units: tuple[Unit, ...]
    source: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> UnitDirectory:
        seen: set[str] = set()
        for u in self.units:
            if u.id in seen:
                raise ValueError(f"unit id {u.id!r} appears twice")
            seen.add(u.id)
        return self

    def by_id(self) -> dict[str, Unit]:
        return dict(self._by_id())

    def unit(self, unit_id: str) -> Unit:
        """One unit by id, without rebuilding the directory: a province's expansion asks this
        twice per obligation (issue 16: 62,236 rebuilds, quadratic, at 1,000 towns)."""
        return self._by_id()[unit_id]

    def _by_id(self) -> dict[str, Unit]:
        built, index = self._index
        if built is not self.units:  # a model_copy(update=…) carried another directory's index over
            del self.__dict__["_index"]
            built, index = self._index
        return index

    @cached_property
    def _index(self) -> tuple[tuple[Unit, ...], dict[str, Unit]]:
        # Cached on the frozen model, not a field: dumps, hashes and equality never see it.
        return index_units(self.units)


def index_units(units: tuple[Unit, ...]) -> tuple[tuple[Unit, ...], dict[str, Unit]]:
    """A directory's units by id, with the tuple they were built from."""
    return units, {u.id: u for u in units}


class Category(Frozen):
    """A task group, e.g. 补齐规划设计短板 (one of the 七补齐)."""

    no: int = Field(ge=1)
    name: str = Field(min_length=1)


LOCAL_UNITS = "@local"
"""In a task's responsible list: every town, farm and scenic area in scope (各镇、场、景区)."""


class Task(Frozen):
    no: int = Field(ge=1)
    name: str = Field(min_length=1)
    category: int
    lead: UnitId
    responsible: tuple[str, ...] = ()
    """Unit ids, or LOCAL_UNITS for 各镇、场、景区人民政府或管委会."""
    text: str | None = None
    ref: str | None = Field(default=None, min_length=1)
    """The text's own number where it restarts in each category (e.g. （二）1.); `no` stays
    unique across the plan."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _without_empty(handler(self), ("ref",))

    @property
    def label(self) -> str:
        """How the text numbers the task: 3． or （二）1．."""
        return f"{self.ref or self.no}．"


class Milestone(Frozen):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    due: date
    standard: str | None = None


class Duty(Frozen):
    """An obligation a phase puts on units outside the numbered tasks (e.g. 制定工作方案)."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    units: tuple[str, ...] = (LOCAL_UNITS,)
    due: date


class PhaseKind(StrEnum):
    planning = "planning"
    rollout = "rollout"
    evaluation = "evaluation"


class Phase(Frozen):
    name: PhaseKind
    title: str
    start: date
    end: date
    milestones: tuple[Milestone, ...] = ()
    duties: tuple[Duty, ...] = ()
    tasks_due_at_milestones: bool = False
    """Rollout: every task falls due for every unit at each milestone."""
    goal: str | None = Field(default=None, min_length=1)
    """What the phase is to achieve by its end, in the plan's words, where the plan sets a horizon
    rather than a deadline for each task (长河镇: 到2030年…高质量建成美丽城镇)."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _without_empty(handler(self), ("goal",))

    @model_validator(mode="after")
    def _dates(self) -> Phase:
        if self.end < self.start:
            raise ValueError(f"phase {self.name} ends ({self.end}) before it starts ({self.start})")
        for m in self.milestones:
            if not self.start <= m.due <= self.end:
                raise ValueError(f"milestone {m.id} due {m.due} is outside phase {self.name}")
        return self


class AssessmentKind(StrEnum):
    routine = "routine"  # 日常督导
    field_inspection = "field_inspection"  # 拉练检查
    annual_review = "annual_review"  # 年度总评
    acceptance = "acceptance"  # 达标验收


ASSESSMENT_KIND_NAMES: dict[str, str] = {
    AssessmentKind.routine: "日常督导",
    AssessmentKind.field_inspection: "拉练检查",
    AssessmentKind.annual_review: "年度总评",
    AssessmentKind.acceptance: "达标验收",
}
"""Each kind as the plan and the office write it (the CLI's and the web's labels)."""


class Assessment(Frozen):
    kind: AssessmentKind
    name: str


class JointMeeting(Frozen):
    name: str
    convener: UnitId
    office: UnitId


class Supervision(Frozen):
    """督查 in the plan's own words: 月度对账, the monthly bulletin (通报), 责令整改.

    The rule set's `monthly` section says on which working day and how far behind a unit must
    be; the plan says that it happens.
    """

    reconciliation: str = Field(min_length=1)
    """月度对账."""
    bulletin: str = Field(min_length=1)
    """The monthly progress bulletin."""
    rectification: str = Field(min_length=1)
    """通报并责令整改 for units that lag."""


class Plan(Frozen):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
    title: str
    issued: date
    issuer: str
    region: str
    notice_prefix: str = Field(min_length=1, description="督办通知 number prefix, e.g. 随擦亮督")
    scope: str
    exclude_seat: bool = True
    joint_meeting: JointMeeting
    categories: tuple[Category, ...]
    tasks: tuple[Task, ...]
    phases: tuple[Phase, ...]
    assessments: tuple[Assessment, ...]
    directory: UnitDirectory
    supervision: Supervision | None = None
    open_fields: tuple[OpenField, ...] = ()
    """Fields the plan file leaves to fill in ({to_fill: …}), each with its fallback: empty for a
    plan ready for a live launch."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _without_empty(handler(self), ("supervision", "open_fields"))

    @model_validator(mode="before")
    @classmethod
    def _fill_open_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(True for _ in markers(data, ())):
            return resolve_open_fields(data)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        units = self.directory.by_id()
        cats = {c.no for c in self.categories}
        if len(cats) != len(self.categories):
            raise ValueError("duplicate category number")
        seen: set[int] = set()
        for t in self.tasks:
            if t.no in seen:
                raise ValueError(f"duplicate task number {t.no}")
            seen.add(t.no)
            if t.category not in cats:
                raise ValueError(f"task {t.no}: unknown category {t.category}")
            for u in (t.lead, *t.responsible):
                if u != LOCAL_UNITS and u not in units:
                    raise ValueError(f"task {t.no}: unknown unit {u!r}")
        for u in (self.joint_meeting.convener, self.joint_meeting.office):
            if u not in units:
                raise ValueError(f"joint meeting: unknown unit {u!r}")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError("duplicate phase")
        for a, b in zip(self.phases, self.phases[1:], strict=False):
            if b.start < a.start:
                raise ValueError(f"phase {b.name} starts before phase {a.name}")
        for p in self.phases:
            for d in p.duties:
                for u in d.units:
                    if u != LOCAL_UNITS and u not in units:
                        raise ValueError(f"phase {p.name} duty {d.id}: unknown unit {u!r}")
        return self

    # -- derived views ---------------------------------------------------------------------------

    def units_in_scope(self) -> tuple[Unit, ...]:
        """The 各镇、场、景区 the plan covers: the seat town is out when exclude_seat."""
        (units, seat), found = self._in_scope
        if units is not self.directory.units or seat != self.exclude_seat:  # copied with an update
            del self.__dict__["_in_scope"]
            _, found = self._in_scope
        return found

    @cached_property
    def _in_scope(self) -> tuple[tuple[tuple[Unit, ...], bool], tuple[Unit, ...]]:
        units = self.directory.units
        return (units, self.exclude_seat), tuple(
            u for u in units if u.kind.is_local and not (self.exclude_seat and u.seat)
        )

    def expand(self, ids: tuple[str, ...]) -> tuple[str, ...]:
        """Unit ids with LOCAL_UNITS replaced by every unit in scope, order kept, no repeats."""
        out: dict[str, None] = {}  # ordered and O(1) membership: a province has 1,000 towns
        for u in ids:
            for x in [v.id for v in self.units_in_scope()] if u == LOCAL_UNITS else [u]:
                out.setdefault(x)
        return tuple(out)

    def phase(self, name: PhaseKind | str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(name)

    def unit(self, unit_id: str) -> Unit:
        return self.directory.unit(unit_id)

    def open_field(self, *at: str | int) -> OpenField | None:
        """The record of a field left to fill in, e.g. `open_field("tasks", 3, "lead")`."""
        return next((f for f in self.open_fields if f.at == at), None)

    def task(self, no: int) -> Task:
        for t in self.tasks:
            if t.no == no:
                return t
        raise KeyError(no)

    @property
    def start(self) -> date:
        return min(self.issued, *(p.start for p in self.phases))

    @property
    def end(self) -> date:
        return max(p.end for p in self.phases)

    def digest(self) -> str:
        """A stable hash of the plan's content: pinned in the campaign and in every audit row."""
        return content_hash(self.model_dump(mode="json"))


def content_hash(obj: object) -> str:
    raw = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()

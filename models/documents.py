"""What the official documents say: 督办通知, the monthly 通报 and its 台账, the final evaluation report.

Each model is the whole input of one rendered document, so the same model always renders the
same bytes (`activities.documents`). Dates are plan dates; the issue date also fixes the files'
metadata timestamps. Validation here is what a document can get wrong on its own: counts that do
not add up, a number whose year is not the issue year, a reply date before the notice.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from models.frozen import Frozen
from models.obligation import ObligationState
from models.open_fields import TO_FILL_TEXT
from models.plan import Plan, UnitKind

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Percent = Annotated[float, Field(ge=0, le=100)]
Count = Annotated[int, Field(ge=0)]
CampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=120)]

NOTICE_CODE = re.compile(r"^(?P<prefix>.+)〔(?P<year>\d{4})〕(?P<number>[1-9]\d*)号$")
"""A document number (发文字号): 随擦亮督〔2021〕3号, the year in hexagonal brackets 〔〕."""


class Severity(StrEnum):
    """The 三色督办单 practice: the colour of a notice says how pressing it is."""

    blue = "blue"
    yellow = "yellow"
    red = "red"

    @property
    def label(self) -> str:
        return {"blue": "蓝色督办", "yellow": "黄色督办", "red": "红色督办"}[self.value]


class Colour(StrEnum):
    """A unit's or an obligation's light in the monthly 通报: nothing overdue, some, too many."""

    green = "green"
    yellow = "yellow"
    red = "red"

    @property
    def label(self) -> str:
        return {"green": "绿", "yellow": "黄", "red": "红"}[self.value]


def _document_code(code: str, issued: date) -> str:
    m = NOTICE_CODE.match(code)
    if m is None:
        raise ValueError(f"document number {code!r} is not of the form 前缀〔年份〕序号号, e.g. 随擦亮督〔2021〕3号")
    if int(m["year"]) != issued.year:
        raise ValueError(f"document number {code!r} is not numbered in its issue year {issued.year}")
    return code


# -- 督办通知 ---------------------------------------------------------------------------------------


class OverdueItem(Frozen):
    """One overdue obligation listed in a notice's table."""

    obligation_id: Text
    title: Text
    due: date
    overdue_working_days: int = Field(ge=1)
    state: ObligationState
    progress: int = Field(ge=0, le=100)
    escalations: Count
    """How many times the obligation has been escalated (督办) before this notice."""


class SupervisionNotice(Frozen):
    """A numbered 督办通知 to one unit about its overdue obligations."""

    campaign_id: CampaignId
    code: Text
    """The document number, 随擦亮督〔2021〕3号: numbered per campaign and year, never reused."""
    title: Text
    """关于督促办理……的通知"""
    issuer: Text
    """Who signs it, e.g. 随县“擦亮小城镇”建设联席会议办公室."""
    addressee: Text
    copy_to: tuple[Text, ...] = ()
    """抄送: the lead units of the overdue tasks."""
    severity: Severity
    items: tuple[OverdueItem, ...] = Field(min_length=1)
    body: tuple[Text, ...] = Field(min_length=1)
    """The paragraphs before the table."""
    reply_by: date
    """书面报告 due date: the unit reports its rectification by then."""
    issued: date
    """Plan date of issue (成文日期); also the files' metadata timestamp."""

    @model_validator(mode="after")
    def _consistent(self) -> SupervisionNotice:
        _document_code(self.code, self.issued)
        if self.reply_by <= self.issued:
            raise ValueError(f"reply date {self.reply_by} is not after the issue date {self.issued}")
        return self

    @property
    def year(self) -> int:
        return self.issued.year

    @property
    def number(self) -> int:
        m = NOTICE_CODE.match(self.code)
        assert m is not None  # checked by the validator
        return int(m["number"])


# -- 通报 and 台账 ----------------------------------------------------------------------------------


class UnitRow(Frozen):
    """One unit's line in the monthly ranking."""

    unit_id: Text
    unit_name: Text
    kind: UnitKind
    total: Count
    done: Count
    on_time: Count
    late: Count
    """Completed after the due date (逾期办结)."""
    overdue: Count
    """Past due and not completed (逾期未办结)."""
    colour: Colour
    expected_progress: Percent
    """序时进度: the share of the campaign's time elapsed, as a percentage."""
    actual_progress: Percent
    """Average reported progress of the unit's obligations."""
    rank: int = Field(ge=1)

    @model_validator(mode="after")
    def _adds_up(self) -> UnitRow:
        if self.on_time + self.late != self.done:
            raise ValueError(f"{self.unit_name}: on time {self.on_time} + late {self.late} ≠ done {self.done}")
        if self.done + self.overdue > self.total:
            raise ValueError(f"{self.unit_name}: done {self.done} + overdue {self.overdue} > total {self.total}")
        return self


class OrderState(StrEnum):
    """A 责令整改 order's state as the bulletin prints it: the order's own (`models.rectification`)."""

    open = "open"
    reported = "reported"
    resolved = "resolved"
    sent_back = "sent_back"
    rejected = "rejected"
    escalated = "escalated"

    @property
    def label(self) -> str:
        return {
            "open": "整改中",
            "reported": "已报告待审核",
            "resolved": "已整改",
            "sent_back": "退回重新整改",
            "rejected": "整改不到位",
            "escalated": "逾期未报告已升级",
        }[self.value]


class RectificationEntry(Frozen):
    """A 责令整改 order as a bulletin lists it."""

    unit_name: Text
    month: date
    """The bulletin month that ordered it (first day of the month)."""
    overdue: Count
    """Obligations overdue when it was ordered."""
    due: date
    state: OrderState = OrderState.open


class Bulletin(Frozen):
    """The monthly 通报: progress and ranking of every unit, who is commended, who criticised."""

    campaign_id: CampaignId
    campaign_title: Text
    """擦亮小城镇建设美丽城镇行动"""
    issuer: Text
    code: Text | None = None
    """The document number, 随擦亮通〔2022〕1号 (`bulletin_code`); None prints none."""
    month: date
    """The month reported on, as its first day."""
    as_of: date
    """The reconciliation date (对账截止日)."""
    issued: date
    rows: tuple[UnitRow, ...] = Field(min_length=1)
    commended: tuple[Text, ...] = ()
    """表扬: unit names."""
    criticised: tuple[Text, ...] = ()
    """通报批评: unit names."""
    orders_issued: tuple[RectificationEntry, ...] = ()
    """责令整改 ordered by this bulletin."""
    orders_unresolved: tuple[RectificationEntry, ...] = ()
    """Orders from earlier months still open."""
    body: tuple[Text, ...] = ()
    """Opening paragraphs; a summary of the counts follows them."""
    copy_to: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Bulletin:
        if self.month.day != 1:
            raise ValueError(f"month {self.month} is not the first day of a month")
        if self.as_of < self.month:
            raise ValueError(f"as-of date {self.as_of} is before the month {self.month:%Y-%m}")
        if self.issued < self.as_of:
            raise ValueError(f"issue date {self.issued} is before the as-of date {self.as_of}")
        if self.code is not None:
            _document_code(self.code, self.issued)
        ids = [r.unit_id for r in self.rows]
        if len(set(ids)) != len(ids):
            raise ValueError("a unit appears twice in the bulletin's rows")
        names = {r.unit_name for r in self.rows}
        for n in (*self.commended, *self.criticised):
            if n not in names:
                raise ValueError(f"{n!r} is named but not among the bulletin's units")
        for o in self.orders_unresolved:
            if o.month >= self.month or o.state is OrderState.resolved:
                raise ValueError(f"{o.unit_name}: an unresolved order must not be resolved and from an earlier month")
        return self

    @property
    def month_label(self) -> str:
        return f"{self.month.year}年{self.month.month}月"


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def first_bulletin_month(plan: Plan) -> date:
    """The first month a campaign's bulletins report on: that of the first phase whose tasks fall
    due at milestones, else of the plan's start (what `workflows.campaign` starts the monthly
    cycle from)."""
    first = min((p.start for p in plan.phases if p.tasks_due_at_milestones), default=plan.start)
    return date(first.year, first.month, 1)


def bulletin_code(notice_prefix: str, *, first_month: date, month: date) -> str:
    """The month's bulletin number, 随擦亮通〔2022〕1号: numbered per campaign and year of issue,
    in month order from the campaign's first bulletin month.

    No counter is needed: there is exactly one bulletin per month, each published early the next
    month (`workflows.monthly`), so the months from `first_month` are gap-free and the Nth month
    published in a year is that year's number N. The prefix is the notices' with 通 for 督
    (随擦亮督 → 随擦亮通), or 通 appended; an open prefix (待填) stays visibly open.
    """
    if month < first_month:
        raise ValueError(f"month {month:%Y-%m} is before the first bulletin month {first_month:%Y-%m}")
    year = _next_month(month).year
    number, m = 0, first_month
    while m <= month:
        number += _next_month(m).year == year
        m = _next_month(m)
    prefix = notice_prefix.removesuffix("督") + "通" if notice_prefix != TO_FILL_TEXT else notice_prefix
    return f"{prefix}〔{year}〕{number}号"


class LedgerRow(Frozen):
    """One obligation in the 台账 workbook."""

    obligation_id: Text
    unit_name: Text
    task_no: int | None = None
    title: Text
    lead: Text
    due: date
    state: ObligationState
    progress: int = Field(ge=0, le=100)
    progress_text: str | None = None
    """What the unit reported, verbatim: never read as a formula."""
    reminders: Count
    escalation_level: Count
    overdue_working_days: Count
    colour: Colour


class Ledger(Frozen):
    """The 台账: every obligation of a campaign as of a date (one workbook row each)."""

    campaign_id: CampaignId
    campaign_title: Text
    as_of: date
    rows: tuple[LedgerRow, ...]
    issuer: Text | None = None
    """The workbook's author property."""

    @model_validator(mode="after")
    def _unique(self) -> Ledger:
        ids = [r.obligation_id for r in self.rows]
        if len(set(ids)) != len(ids):
            raise ValueError("an obligation appears twice in the ledger")
        return self


# -- 总结评价 ---------------------------------------------------------------------------------------


class ScorePart(Frozen):
    """One component of a town's composite score: 日常督导, 拉练检查, 年度总评 …"""

    name: Text
    weight: float = Field(gt=0, le=1)
    score: Percent


class TownScore(Frozen):
    unit_id: Text
    unit_name: Text
    kind: UnitKind
    parts: tuple[ScorePart, ...] = Field(min_length=1)
    rank: int = Field(ge=1)
    basic_met: bool
    """基础型 standard reached (达标验收 at 2021-12-31)."""
    model_met: bool
    """示范型 standard reached (达标验收 at 2022-06-30)."""

    @model_validator(mode="after")
    def _weights(self) -> TownScore:
        total = sum(p.weight for p in self.parts)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"{self.unit_name}: score weights add up to {total:g}, not 1")
        names = [p.name for p in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.unit_name}: a score part appears twice")
        return self

    @property
    def composite(self) -> float:
        """Σ weight × score, to two decimals (the report's and the workbook's figure)."""
        return round(sum(p.weight * p.score for p in self.parts), 2)


class CarriedItem(Frozen):
    """Work carried into 长效管理 after the campaign closes."""

    title: Text
    owner: Text
    """The unit that keeps it up."""
    mechanism: Text
    """How it is kept up (制度, 巡查, 考核 …)."""
    review: date | None = None


class FinalReport(Frozen):
    """The campaign's 总结评价 report (issue 7)."""

    campaign_id: CampaignId
    campaign_title: Text
    title: Text
    issuer: Text
    period_start: date
    period_end: date
    issued: date
    towns: tuple[TownScore, ...] = Field(min_length=1)
    laggards: tuple[Text, ...] = ()
    """后进: unit names."""
    commendation: tuple[Text, ...] = ()
    """Recommended for the 楚天杯: unit names."""
    people: tuple[Text, ...] = ()
    """Individuals the office nominated for the 楚天杯: "姓名（单位职务）：事迹"."""
    carried: tuple[CarriedItem, ...] = ()
    summary: tuple[Text, ...] = ()
    """Opening paragraphs."""
    copy_to: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> FinalReport:
        if self.period_end < self.period_start:
            raise ValueError(f"period ends {self.period_end} before it starts {self.period_start}")
        ids = [t.unit_id for t in self.towns]
        if len(set(ids)) != len(ids):
            raise ValueError("a town appears twice in the report")
        names = {t.unit_name for t in self.towns}
        for n in (*self.laggards, *self.commendation):
            if n not in names:
                raise ValueError(f"{n!r} is named but not among the report's towns")
        if len({tuple(p.name for p in t.parts) for t in self.towns}) > 1:
            raise ValueError("towns are scored on different parts; the ranking table needs one set")
        return self

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.towns[0].parts)

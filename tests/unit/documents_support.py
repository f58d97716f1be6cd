"""Small, realistic document inputs: two towns, three overdue items, Chinese names throughout."""

from __future__ import annotations

from datetime import date

from models.documents import (
    Bulletin,
    CarriedItem,
    Colour,
    FinalReport,
    Ledger,
    LedgerRow,
    OrderState,
    OverdueItem,
    RectificationEntry,
    ScorePart,
    Severity,
    SupervisionNotice,
    TownScore,
    UnitRow,
)
from models.obligation import ObligationState
from models.plan import UnitKind

CAMPAIGN = "suixian-2021"
TITLE = "“擦亮小城镇”建设美丽城镇行动"
OFFICE = "随县“擦亮小城镇”建设联席会议办公室"
MALICIOUS = '=HYPERLINK("http://evil.example/x","点击查看进展")'

ITEMS = (
    OverdueItem(
        obligation_id=f"{CAMPAIGN}/rollout/yindian/3/basic",
        title="集镇污水管网改造及雨污分流",
        due=date(2021, 12, 31),
        overdue_working_days=12,
        state=ObligationState.in_progress,
        progress=60,
        escalations=2,
    ),
    OverdueItem(
        obligation_id=f"{CAMPAIGN}/rollout/yindian/7/basic",
        title="农贸市场提档升级",
        due=date(2021, 12, 31),
        overdue_working_days=12,
        state=ObligationState.acknowledged,
        progress=20,
        escalations=1,
    ),
    OverdueItem(
        obligation_id=f"{CAMPAIGN}/planning/yindian/plan",
        title="编制镇级“擦亮小城镇”工作方案",
        due=date(2021, 4, 30),
        overdue_working_days=160,
        state=ObligationState.assigned,
        progress=0,
        escalations=3,
    ),
)


def notice() -> SupervisionNotice:
    return SupervisionNotice(
        campaign_id=CAMPAIGN,
        code="随擦亮督〔2022〕3号",
        title="关于督促办理殷店镇“擦亮小城镇”建设逾期任务的通知",
        issuer=OFFICE,
        addressee="殷店镇人民政府",
        copy_to=("县住建局", "县市场监管局"),
        severity=Severity.red,
        items=ITEMS,
        body=(
            "根据《随县“擦亮小城镇”建设美丽城镇行动实施方案》，经月度对账，你镇下列任务已超过完成时限仍未办结，"
            "且经牵头单位督办后仍无实质进展。",
            "现予红色督办，请你镇高度重视，明确专人负责，倒排工期，确保按时整改到位。",
        ),
        reply_by=date(2022, 1, 28),
        issued=date(2022, 1, 18),
    )


def bulletin() -> Bulletin:
    return Bulletin(
        campaign_id=CAMPAIGN,
        campaign_title=TITLE,
        issuer=OFFICE,
        code="随擦亮通〔2022〕1号",
        month=date(2021, 12, 1),
        as_of=date(2021, 12, 31),
        issued=date(2022, 1, 6),
        rows=(
            UnitRow(
                unit_id="yindian",
                unit_name="殷店镇",
                kind=UnitKind.town,
                total=20,
                done=14,
                on_time=11,
                late=3,
                overdue=5,
                colour=Colour.red,
                expected_progress=62.5,
                actual_progress=48.3,
                rank=2,
            ),
            UnitRow(
                unit_id="hongshan",
                unit_name="洪山镇",
                kind=UnitKind.town,
                total=20,
                done=19,
                on_time=19,
                late=0,
                overdue=0,
                colour=Colour.green,
                expected_progress=62.5,
                actual_progress=91.0,
                rank=1,
            ),
        ),
        commended=("洪山镇",),
        criticised=("殷店镇",),
        orders_issued=(
            RectificationEntry(unit_name="殷店镇", month=date(2021, 12, 1), overdue=5, due=date(2022, 1, 20)),
        ),
        orders_unresolved=(
            RectificationEntry(
                unit_name="殷店镇", month=date(2021, 11, 1), overdue=3, due=date(2021, 12, 20), state=OrderState.open
            ),
        ),
        body=("12月，各地各部门按照实施方案要求，扎实推进基础型建设任务。",),
        copy_to=("县委办", "县政府办"),
    )


def ledger() -> Ledger:
    rows = []
    for n, item in enumerate(ITEMS):
        rows.append(
            LedgerRow(
                obligation_id=item.obligation_id,
                unit_name="殷店镇",
                task_no=None if n == 2 else 3 + 4 * n,
                title=item.title,
                lead="县住建局",
                due=item.due,
                state=item.state,
                progress=item.progress,
                progress_text=MALICIOUS if n == 0 else "已完成管网勘测，正在招标",
                reminders=2,
                escalation_level=item.escalations,
                overdue_working_days=item.overdue_working_days,
                colour=Colour.red,
            )
        )
    rows.append(
        LedgerRow(
            obligation_id=f"{CAMPAIGN}/rollout/hongshan/3/basic",
            unit_name="洪山镇",
            task_no=3,
            title="集镇污水管网改造及雨污分流",
            lead="县住建局",
            due=date(2021, 12, 31),
            state=ObligationState.completed,
            progress=100,
            progress_text="-已验收",
            reminders=1,
            escalation_level=0,
            overdue_working_days=0,
            colour=Colour.green,
        )
    )
    return Ledger(campaign_id=CAMPAIGN, campaign_title=TITLE, as_of=date(2021, 12, 31), rows=tuple(rows), issuer=OFFICE)


def _parts(routine: float, field: float, annual: float) -> tuple[ScorePart, ...]:
    return (
        ScorePart(name="日常督导", weight=0.3, score=routine),
        ScorePart(name="拉练检查", weight=0.3, score=field),
        ScorePart(name="年度总评", weight=0.4, score=annual),
    )


def final_report() -> FinalReport:
    return FinalReport(
        campaign_id=CAMPAIGN,
        campaign_title=TITLE,
        title="随县“擦亮小城镇”建设美丽城镇行动总结评价报告",
        issuer=OFFICE,
        period_start=date(2021, 4, 30),
        period_end=date(2022, 12, 31),
        issued=date(2022, 12, 30),
        towns=(
            TownScore(
                unit_id="hongshan",
                unit_name="洪山镇",
                kind=UnitKind.town,
                parts=_parts(95, 92, 96),
                rank=1,
                basic_met=True,
                model_met=True,
            ),
            TownScore(
                unit_id="yindian",
                unit_name="殷店镇",
                kind=UnitKind.town,
                parts=_parts(70, 65, 72.5),
                rank=2,
                basic_met=True,
                model_met=False,
            ),
        ),
        laggards=("殷店镇",),
        commendation=("洪山镇",),
        carried=(
            CarriedItem(
                title="集镇环境卫生日常保洁",
                owner="洪山镇",
                mechanism="网格化保洁责任制，县城管局每月巡查",
                review=date(2023, 3, 31),
            ),
            CarriedItem(title="农贸市场规范管理", owner="殷店镇", mechanism="纳入年度目标考核"),
        ),
        summary=("2021年4月以来，全县各镇（场、景区）按照实施方案要求，补齐功能短板，美丽城镇建设取得阶段性成效。",),
        copy_to=("县委办", "县政府办", "县住建局"),
    )

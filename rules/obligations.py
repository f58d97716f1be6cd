"""From a plan to its obligations (任务清单): who owes what, by when."""

from __future__ import annotations

from datetime import date

from models.obligation import ObligationSpec, UnitRole, obligation_id
from models.plan import PhaseKind, Plan


def expand(plan: Plan, campaign_id: str, *, grace_until: date | None = None) -> list[ObligationSpec]:
    """Every obligation of a campaign, in a stable order.

    - With `grace_until` (set by the office at launch: `rules.launch.grace_until`), work the plan
      makes due before that date is due on it instead.

    - A phase's duties: one per unit named (e.g. every town's 工作方案 in the planning phase).
    - In a phase with `tasks_due_at_milestones`, every task falls due for its lead unit and each
      responsible unit at each milestone (基础型 by 2021-12-31, 示范型 by 2022-06-30).
    - Fields the plan leaves to fill in have already taken their fallbacks (`Plan.open_fields`):
      a task with no lead named falls to the leading group's office, due on the fallback date.
    """
    out: list[ObligationSpec] = []
    office = plan.joint_meeting.office
    for phase in plan.phases:
        assigned = max(phase.start, plan.issued)
        for duty in phase.duties:
            for uid in plan.expand(duty.units):
                out.append(
                    ObligationSpec(
                        id=obligation_id(campaign_id, phase.name, uid, f"D-{duty.id}"),
                        phase=phase.name,
                        unit_id=uid,
                        unit_name=plan.unit(uid).name,
                        unit_kind=plan.unit(uid).kind.value,
                        role=UnitRole.responsible,
                        duty=duty.id,
                        title=duty.name,
                        lead=office,
                        assigned=assigned,
                        due=duty.due,
                    )
                )
        if not phase.tasks_due_at_milestones:
            continue
        for m in phase.milestones:
            for task in plan.tasks:
                for uid in plan.expand((task.lead, *task.responsible)):
                    out.append(
                        ObligationSpec(
                            id=obligation_id(campaign_id, phase.name, uid, f"T{task.no:02d}-{m.id}"),
                            phase=phase.name,
                            unit_id=uid,
                            unit_name=plan.unit(uid).name,
                            unit_kind=plan.unit(uid).kind.value,
                            role=UnitRole.lead if uid == task.lead else UnitRole.responsible,
                            task_no=task.no,
                            category=task.category,
                            milestone=m.id,
                            title=f"{task.label}{task.name}（{m.name}）",
                            lead=task.lead,
                            assigned=assigned,
                            due=m.due,
                        )
                    )
    if grace_until is not None:
        out = [o if o.due >= grace_until else o.model_copy(update={"due": grace_until}) for o in out]
    return out


def graced(plan: Plan, campaign_id: str, grace_until: date) -> dict[date, list[str]]:
    """The obligations whose due date the office moved to `grace_until` at launch, by plan due date."""
    out: dict[date, list[str]] = {}
    for o in expand(plan, campaign_id):
        if o.due < grace_until:
            out.setdefault(o.due, []).append(o.id)
    return out


def units_by_phase(obligations: list[ObligationSpec]) -> dict[PhaseKind, list[str]]:
    """The units with obligations in each phase, in first-seen order."""
    seen: dict[PhaseKind, dict[str, None]] = {}  # ordered sets: a province has 1,000 towns a phase
    for o in obligations:
        seen.setdefault(o.phase, {}).setdefault(o.unit_id)
    return {phase: list(units) for phase, units in seen.items()}

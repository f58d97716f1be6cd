"""Rehearsal only: a simulated agency acts through the same Updates a real one uses."""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError

from models.payloads import (
    Acknowledge,
    Act,
    Complete,
    ObligationAction,
    ObligationView,
    ReportProgress,
    SimulateAgency,
    SimulateResult,
)

log = structlog.get_logger()


class AgencySimulator:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name=Act.simulate_agency)
    async def simulate_agency(self, inp: SimulateAgency) -> SimulateResult:
        handle = self.client.get_workflow_handle(inp.workflow_id)
        out = SimulateResult()
        for m in inp.moves:
            arg: ObligationAction
            if m.verb == "acknowledge":
                arg = Acknowledge(obligation_id=m.obligation_id, unit_id=inp.unit_id, text="已签收")
            elif m.verb == "progress":
                arg = ReportProgress(
                    obligation_id=m.obligation_id, unit_id=inp.unit_id, percent=m.percent, text="按计划推进"
                )
            else:
                arg = Complete(obligation_id=m.obligation_id, unit_id=inp.unit_id, text="已办结，佐证材料已上传")
            verb = {"acknowledge": "acknowledge", "progress": "report_progress", "complete": "complete"}[m.verb]
            # The move's own id: when this activity is retried, Temporal recognises each Update
            # already sent and answers it again instead of applying (or refusing) it twice.
            move_id = f"{m.verb}:{m.obligation_id}@{inp.plan_time.isoformat()}"
            try:
                await handle.execute_update(verb, arg, id=move_id, result_type=ObligationView)
                out.applied += 1
            except WorkflowUpdateFailedError as e:
                # Refused (and on the record as refused): an answer, not a failure; the agency
                # moves on.
                out.rejected += 1
                log.info("move refused", obligation_id=m.obligation_id, verb=m.verb, reason=str(e.cause))
            # Any other error (the unit workflow not started yet) fails the activity, and its
            # retry policy waits.
        return out

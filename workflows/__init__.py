"""Orchestration only: timers, Updates, queries, children, continue-as-new. Every effect is an
activity, called by name (models.payloads.Act) so no database code enters the sandbox."""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.assessments import AssessmentsWorkflow
from workflows.campaign import CampaignWorkflow
from workflows.dispatch import DispatchWorkflow
from workflows.monthly import MonthlyWorkflow
from workflows.phase import PhaseWorkflow, UnitBatchWorkflow
from workflows.rectification import RectificationWorkflow
from workflows.simulation import AgencyWorkflow, SimulationWorkflow
from workflows.unit import UnitWorkflow

WORKFLOWS = [
    CampaignWorkflow,
    PhaseWorkflow,
    UnitBatchWorkflow,
    UnitWorkflow,
    MonthlyWorkflow,
    RectificationWorkflow,
    DispatchWorkflow,
    AssessmentsWorkflow,
]
REHEARSAL_WORKFLOWS = [SimulationWorkflow, AgencyWorkflow]

# Our pure layers and the libraries they use are deterministic and side-effect free, so the
# sandbox may share them with workflows instead of re-importing them for every run; cel is an
# extension module, which cannot be re-imported at all.
PASSTHROUGH = ("models", "rules", "cel", "chinese_calendar", "yaml", "pydantic", "pydantic_core")


def sandbox() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


__all__ = [
    "REHEARSAL_WORKFLOWS",
    "WORKFLOWS",
    "AgencyWorkflow",
    "AssessmentsWorkflow",
    "CampaignWorkflow",
    "DispatchWorkflow",
    "MonthlyWorkflow",
    "PhaseWorkflow",
    "RectificationWorkflow",
    "SimulationWorkflow",
    "UnitBatchWorkflow",
    "UnitWorkflow",
    "sandbox",
]

"""Orchestration only: timers, Updates, queries, children, continue-as-new. Every effect is an
activity, called by name (models.payloads.Act) so no database code enters the sandbox."""

from workflows.campaign import CampaignWorkflow
from workflows.monthly import MonthlyWorkflow
from workflows.phase import PhaseWorkflow, UnitBatchWorkflow
from workflows.simulation import AgencyWorkflow, SimulationWorkflow
from workflows.unit import UnitWorkflow

WORKFLOWS = [CampaignWorkflow, PhaseWorkflow, UnitBatchWorkflow, UnitWorkflow, MonthlyWorkflow]
REHEARSAL_WORKFLOWS = [SimulationWorkflow, AgencyWorkflow]

__all__ = [
    "REHEARSAL_WORKFLOWS",
    "WORKFLOWS",
    "AgencyWorkflow",
    "CampaignWorkflow",
    "MonthlyWorkflow",
    "PhaseWorkflow",
    "SimulationWorkflow",
    "UnitBatchWorkflow",
    "UnitWorkflow",
]

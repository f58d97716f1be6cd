"""Every workflow a worker registers. Kept apart from the package's `__init__` so that the
sandbox, which imports a workflow's own module afresh for each run, does not import every
workflow module with it (importing `workflows.unit` runs `workflows/__init__` first)."""

from workflows.assessments import AssessmentsWorkflow
from workflows.campaign import CampaignWorkflow
from workflows.dispatch import DispatchWorkflow
from workflows.monthly import MonthlyWorkflow
from workflows.phase import PhaseWorkflow, UnitBatchWorkflow
from workflows.rectification import RectificationWorkflow
from workflows.simulation import AgencyWorkflow, SimulationWorkflow
from workflows.unit import UnitWorkflow

WORKFLOWS: list[type] = [
    CampaignWorkflow,
    PhaseWorkflow,
    UnitBatchWorkflow,
    UnitWorkflow,
    MonthlyWorkflow,
    RectificationWorkflow,
    DispatchWorkflow,
    AssessmentsWorkflow,
]
REHEARSAL_WORKFLOWS: list[type] = [SimulationWorkflow, AgencyWorkflow]

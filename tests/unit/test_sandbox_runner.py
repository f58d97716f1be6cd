"""The workflow sandbox stays a sandbox while building one costs less: each run still gets its own
freshly executed workflow module, only the compiled code is shared, and a run imports only the
workflow modules it uses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import temporalio.converter
import temporalio.workflow
from temporalio.api.common.v1.message_pb2 import Payloads
from temporalio.api.failure.v1.message_pb2 import Failure
from temporalio.worker._workflow_instance import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox._runner import _fake_info, _Instance

from workflows import RectificationWorkflow, UnitWorkflow, sandbox
from workflows.runner import _CachedSourceLoader

ROOT = Path(__file__).resolve().parents[2]


def _instance_class(cls: type) -> type:
    """The workflow class as one sandboxed run sees it."""

    async def build() -> type:
        defn = temporalio.workflow._Definition.must_from_class(cls)
        inst = sandbox().create_instance(_details(defn))
        assert isinstance(inst, _Instance)
        cls_in_run = inst.globals_and_locals["__temporal_workflow_class"]
        assert isinstance(cls_in_run, type)
        return cls_in_run

    return asyncio.run(build())


def _details(defn: temporalio.workflow._Definition) -> WorkflowInstanceDetails:
    dc = temporalio.converter.DataConverter.default
    return WorkflowInstanceDetails(
        payload_converter_factory=dc._new_payload_converter,
        failure_converter_class=dc.failure_converter_class,
        interceptor_classes=[],
        defn=defn,
        info=_fake_info,
        randomness_seed=-1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


def test_each_run_executes_its_workflow_module_afresh() -> None:
    first, second = _instance_class(UnitWorkflow), _instance_class(UnitWorkflow)
    # Not the worker's class, nor each other's: module state cannot leak from run to run.
    assert first is not second
    assert first is not UnitWorkflow and second is not UnitWorkflow
    assert first.__name__ == second.__name__ == "UnitWorkflow"


def test_the_code_is_compiled_once_and_again_when_the_file_changes(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("X = 1\n")
    loader = _CachedSourceLoader("m", str(src))
    code = loader.get_code("m")
    assert loader.get_code("m") is code
    assert _CachedSourceLoader("m", str(src)).get_code("m") is code  # shared by every loader
    src.write_text("X = 22\n")
    os.utime(src, ns=(0, os.stat(src).st_mtime_ns + 1_000_000))
    changed = loader.get_code("m")
    assert changed is not code
    ns: dict[str, object] = {}
    exec(changed, ns)
    assert ns["X"] == 22


def test_a_workflow_module_imports_only_what_it_uses() -> None:
    probe = "import sys, workflows.rectification; print(sorted(m for m in sys.modules if m.startswith('workflows')))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)  # a list literal we printed
    assert "workflows.rectification" in loaded
    assert "workflows.campaign" not in loaded and "workflows.unit" not in loaded
    # and the package still offers every name its importers use
    assert RectificationWorkflow.__name__ == "RectificationWorkflow"


def test_every_name_the_package_offers_is_found_where_it_says() -> None:
    """`workflows` names its exports three times (the lazy table, `__all__`, the typing imports):
    a workflow added to one and not the others would fail here, not in a worker."""
    import workflows

    assert sorted(workflows.__all__) == sorted(workflows._WHERE)
    for name in workflows.__all__:
        assert getattr(workflows, name) is not None, name
    registered = {w.__name__ for w in (*workflows.WORKFLOWS, *workflows.REHEARSAL_WORKFLOWS)}
    assert registered <= set(workflows._WHERE), registered - set(workflows._WHERE)


def test_the_suite_runs_workflows_sandboxed_where_a_deployment_need_not() -> None:
    """The sandbox is what catches a non-deterministic call in workflow code: every worker the
    suite builds runs it (tests/conftest.py), while a deployment's default leaves it off."""
    from activities.config import Settings

    assert Settings().workflow_sandbox is True
    assert Settings.model_fields["workflow_sandbox"].default is False

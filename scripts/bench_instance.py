"""Benchmark: the CPU to import a unit workflow's module into a fresh sandbox, as building each
new run's instance does (`workflows.runner`), without a server.

    .venv/bin/python scripts/bench_instance.py [N] [--profile]

Prints CPU ms per sandbox import of `workflows.unit`'s `UnitWorkflow` (the first N//10 untimed, to
warm the code cache), optionally a cProfile of the timed part by cumulative time.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from temporalio.worker.workflow_sandbox._importer import Importer
from temporalio.worker.workflow_sandbox._restrictions import RestrictionContext

from workflows import sandbox
from workflows.runner import _compiled

CODE = "with __temporal_importer.applied():\n  from workflows.unit import UnitWorkflow as __temporal_workflow_class\n"


def build(restrictions: object) -> None:
    importer = Importer(restrictions, RestrictionContext(), workflow_module_name="workflows.unit")  # type: ignore[arg-type]
    g: dict[str, object] = {"__file__": "workflow_sandbox.py", "__temporal_importer": importer}
    exec(_compiled(CODE), g, g)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 200
    restrictions = sandbox().restrictions
    for _ in range(max(1, n // 10)):
        build(restrictions)
    prof = cProfile.Profile() if "--profile" in sys.argv else None
    cpu = time.process_time()
    if prof:
        prof.enable()
    for _ in range(n):
        build(restrictions)
    if prof:
        prof.disable()
    cpu = time.process_time() - cpu
    print(f"{n} sandbox imports of workflows.unit: {cpu / n * 1000:.2f} ms CPU each")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()

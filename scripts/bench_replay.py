"""Benchmark: replaying a rehearsal's saved histories through the sandbox, as `audit verify` does.

    .venv/bin/python scripts/bench_replay.py DIR/histories

Prints the wall and CPU seconds of the replay alone (the files are loaded first, untimed) and how
many times the SDK entered a run's sandbox (`_Instance._run_code`: building a run, each
activation, and with the SDK's own runner each payload's serialization context). Replay is the
workflow side of a rehearsal without the server, the database or the activities, so it isolates
what the sandbox costs. Run from any checkout: it imports the code of the current directory.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from temporalio.worker.workflow_sandbox import _runner

from activities import history
from services.audit import replay


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("histories", type=Path)
    args = ap.parse_args()
    entries = 0
    enter = _runner._Instance._run_code

    def counted(self: _runner._Instance, code: str, **extra: object) -> None:
        nonlocal entries
        entries += 1
        enter(self, code, **extra)

    _runner._Instance._run_code = counted  # type: ignore[method-assign]
    loaded = history.load(args.histories)
    wall, cpu = time.perf_counter(), time.process_time()
    report = asyncio.run(replay(loaded))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{report.replayed} histories replayed, {len(report.failures)} failures: {wall:.2f} s wall, {cpu:.2f} s CPU,")
    print(f"{entries} sandbox entries")


if __name__ == "__main__":
    main()

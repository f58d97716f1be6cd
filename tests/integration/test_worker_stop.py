"""Ctrl-C stops a worker within its grace period, even when its shutdown hangs.

The worker here stands in for one whose shutdown never returns (a poll the server holds open, a
send stuck in a socket): what is tested is `worker.run_until_stopped`, in a process of its own,
signalled as an operator or a process manager would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, sys
from worker import run_until_stopped

class Stuck:
    '''Runs until shut down; its shutdown hangs unless told to return.'''
    def __init__(self, hang):
        self.hang, self.done = hang, asyncio.Event()
    async def run(self):
        print("running", flush=True)
        await self.done.wait()
    async def shutdown(self):
        if self.hang:
            await asyncio.Event().wait()
        self.done.set()

async def main():
    await run_until_stopped(Stuck(sys.argv[1] == "hang"), grace=float(sys.argv[2]))
    print("returned", flush=True)

asyncio.run(main())
"""


def start(mode: str, grace: float) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode, str(grace)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline() == "running\n"
    return p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_clean_stop_returns(sig: signal.Signals) -> None:
    p = start("clean", 60)
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "worker stopped" in out and out.endswith("returned\n"), out


def test_a_hung_stop_leaves_after_the_grace_period() -> None:
    p = start("hang", 1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)  # not the 60 s a hung poll could take
    assert p.returncode == 0, err
    assert "worker left with tasks in flight" in out
    assert "returned" not in out  # left hard: never went back through asyncio.run


def test_a_second_ctrl_c_leaves_at_once() -> None:
    p = start("hang", 600)
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)  # the first has been taken as "stop"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)  # well before the 600 s grace
    assert p.returncode == 0, err
    assert "worker left with tasks in flight" in out and "returned" not in out

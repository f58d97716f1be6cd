"""What the servers' processes need: a file lock, signals, a log's tail, the binaries the
installed Python packages ship, and a hard exit."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import sys
import sysconfig
from collections.abc import AsyncIterator
from importlib import metadata
from pathlib import Path
from typing import NoReturn


@contextlib.asynccontextmanager
async def file_lock(path: Path) -> AsyncIterator[None]:
    lock_file = await asyncio.to_thread(open, path, "a+b")
    with lock_file:
        await asyncio.to_thread(fcntl.flock, lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def send_signal(pid: int, signum: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def installed_binary(name: str, *, package: str) -> str:
    exe = name + (".exe" if os.name == "nt" else "")
    # The scripts folder next to the interpreter (not its resolved target: a venv's python is a
    # symlink out of the venv), then wherever the package's RECORD says it put the file.
    candidates = [Path(sys.executable).parent / exe, Path(sysconfig.get_path("scripts")) / exe]
    with contextlib.suppress(metadata.PackageNotFoundError):
        files = metadata.distribution(package).files or []
        candidates += [Path(str(f.locate())).resolve() for f in files if f.name == exe]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.absolute())
    found = shutil.which(exe)
    if found:
        return str(Path(found).absolute())
    raise RuntimeError(
        f"the {exe!r} binary was not found next to {sys.executable} nor on PATH: install the "
        f"{package!r} Python package (a dependency of duban) into this environment"
    )


def hard_exit(code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process with `code` at once.

    After the Temporal client has been used, the interpreter can abort during shutdown (`Fatal
    Python error: PyGILState_Release`, exit 134; sdk-python issue #300), which would hide the real
    exit code. os._exit skips that shutdown, and with it atexit handlers.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)

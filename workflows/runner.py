"""The workflow sandbox duban's workers and replayers use.

The SDK builds a fresh sandbox for every workflow run and imports the workflow's module (and the
`workflows` modules it uses) into it again: that is what keeps one run's module state from
leaking into another and what restricts non-deterministic calls. Two costs of that are avoidable
without weakening it:

- our pure layers and their libraries are passed through (`PASSTHROUGH`), not re-imported;
- the *code objects* of the `workflows` modules are compiled once per process and reused
  (`CodeCache`): each run still executes the module afresh in its own sandbox, but does not parse
  and compile the source again. Without a writable `__pycache__` (PYTHONDONTWRITEBYTECODE, a
  read-only install, most container images) every run otherwise compiled every module it
  imported: about 40 % of building a sandbox (BENCHMARKS.md, "the sandbox");
- the SDK enters a run's sandbox by `exec`-ing a code *string* (for each activation, and for
  each payload an activation carries, to ask the run for its serialization context), which
  compiles that string again every time: `_Instance` compiles each of those few strings once
  per process, and answers the serialization-context questions (plain data read from the run's
  state, no import, no user code) without entering the sandbox at all.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType
from typing import Any, ClassVar, cast

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox import _runner as sdk_runner

# Our pure layers and the libraries they use are deterministic and side-effect free, so the
# sandbox may share them with workflows instead of re-importing them for every run; cel is an
# extension module, which cannot be re-imported at all.
PASSTHROUGH = ("models", "rules", "cel", "chinese_calendar", "yaml", "pydantic", "pydantic_core")

_PACKAGE = "workflows"


class _CachedSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code objects are memoised by file, modification time and size, so
    an edited file (a developer's worktree) is compiled again rather than served stale."""

    _codes: ClassVar[dict[tuple[str, int, int], CodeType]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def get_code(self, fullname: str) -> CodeType:
        st = os.stat(self.path)
        key = (self.path, st.st_mtime_ns, st.st_size)
        code = self._codes.get(key)
        if code is None:
            code = super().get_code(fullname)
            assert code is not None  # a source file always has code
            with self._lock:
                self._codes[key] = code
        return code


class CodeCache(importlib.abc.MetaPathFinder):
    """Finds the `workflows` package's modules as the path finder does, with a memoising loader.
    Only our own package: third-party modules are passed through or restricted by the SDK."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _PACKAGE and not fullname.startswith(_PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _CachedSourceLoader(spec.loader.name, spec.loader.path)
        return spec


def install_code_cache() -> None:
    """Put the cache first on the import path, once per process."""
    if not any(isinstance(f, CodeCache) for f in sys.meta_path):
        sys.meta_path.insert(0, CodeCache())


@functools.lru_cache(maxsize=32)
def _compiled(code: str) -> CodeType:
    # "<string>" as `exec` of the string itself names it, so tracebacks read the same.
    return compile(code, "<string>", "exec")


class _Instance(sdk_runner._Instance):
    """The SDK's sandboxed run (private, `temporalio` pinned below 2), entered more cheaply.
    A replay of a 随县 rehearsal's 121 histories entered sandboxes ~20,000 times, two in three
    of them for a serialization context (BENCHMARKS.md, "The workflow side's overhead")."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # `exec` accepts a code object as it does a string: the same statements, run in the
        # same globals under the same importer, without parsing them again.
        super()._run_code(cast(str, _compiled(code)), **extra_globals)

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        # What the SDK runs inside the sandbox for this is a lookup in the run's own state
        # (its info, its pending activity or child by sequence number) that builds a frozen
        # dataclass of passed-through `temporalio`: no import, nothing restricted, no user
        # code, so there is nothing for the sandbox's importer to guard.
        self.importer.restriction_context.is_runtime = True
        try:
            inner: Any = self.globals_and_locals["__temporal_in_sandbox"]
            return cast(SerializationContext | None, inner.get_serialization_context(command_info))
        finally:
            self.importer.restriction_context.is_runtime = False


class _Runner(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(det, self.runner_class, self.restrictions)


def sandbox() -> SandboxedWorkflowRunner:
    install_code_cache()
    return _Runner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))

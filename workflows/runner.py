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
  imported: about 40 % of building a sandbox (BENCHMARKS.md, "the sandbox").
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType
from typing import ClassVar

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

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


def sandbox() -> SandboxedWorkflowRunner:
    install_code_cache()
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))

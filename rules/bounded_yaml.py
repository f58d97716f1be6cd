"""YAML read within bounds: a file a user hands us cannot make us hang, swell or crash.

A plan, directory, rule set, score sheet or calendar file is small and flat; none of the shipped
ones uses an anchor. So the reader refuses what only an attack needs (a billion-laughs file is a
few hundred bytes of nested aliases; a 5,000-deep nesting overflows the composer's recursion),
each refusal as a `FILE:LINE: message`. Pure: text in, nodes out.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_CHARS = 8_000_000
"""Characters in one file: a 1,000-town province's plan is well under 2 MB."""
MAX_ALIASES = 32
"""Aliases (`*name`) in one file: a writer may share a block or two, never more."""
MAX_DEPTH = 40
"""Nesting of mappings and sequences: the deepest shipped file nests 5."""
MAX_EXPANSION = 100_000
"""Nodes that aliases may add when the file is read as data (each reuse counts its whole block)."""

# What no text file holds: C0 controls but tab/newline/return, DEL, C1 controls but NEL, the
# non-characters, and lone
# surrogates (Python lets them through `surrogateescape`). YAML refuses them too, but with a
# traceback-shaped ReaderError at a byte offset; here they get a line.
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")


class Bound(Exception):
    """The text breaks a bound; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def precheck(text: str, *, max_chars: int = MAX_CHARS) -> None:
    """Refuse, before any parsing, text too long or holding a character no text file holds."""
    if len(text) > max_chars:
        raise Bound(1, f"the file is too large ({len(text):,} characters; at most {max_chars:,})")
    if m := _UNREADABLE.search(text):
        line = text.count("\n", 0, m.start()) + 1
        raise Bound(line, f"unreadable character U+{ord(m[0]):04X} (not text)")


class BoundedComposer:
    """Mixin for a PyYAML loader: counts aliases and nesting while the node graph is composed.

    The composer is recursive, so the depth is checked on the way down, long before Python's
    own recursion limit; aliases are counted as they are met, before anything is expanded.
    """

    _aliases: int = 0
    _depth: int = 0
    nodes: int = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        loader: Any = self
        event = loader.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise Bound(line, f"too many aliases (more than {MAX_ALIASES}): refused (a YAML bomb?)")
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent) and self._depth >= MAX_DEPTH:
            raise Bound(line, f"nested more than {MAX_DEPTH} deep: refused")
        self.nodes += 1
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


class Budget:
    """Nodes a reader may build from the composed graph: each once, plus `MAX_EXPANSION` more for
    what aliases share. A node reached twice was reached through an alias."""

    def __init__(self, composed: int) -> None:
        self.left = composed + MAX_EXPANSION

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            raise Bound(
                node.start_mark.line + 1,
                f"aliases expand to more than {MAX_EXPANSION:,} extra values: refused (a YAML bomb?)",
            )

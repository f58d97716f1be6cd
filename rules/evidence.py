"""What a unit may attach (佐证材料): a plain file name, a type and a size the rule set accepts.

Pure, and used on both sides: the service refuses a name and keeps a refused file out of the
store; the unit workflow refuses the Update citing it (on the record), whoever sent it.
"""

from __future__ import annotations

import re

from models.ruleset import EvidencePolicy

# A name is shown to people and written to disk by whoever downloads it: no folders (either
# slash), no parent references, no control characters (a newline forges a line in a log).
_BAD = re.compile(r"[/\\\x00-\x1f\x7f]")


def name_problem(name: str) -> str | None:
    """Why `name` is not a plain file name, or None."""
    if not name.strip():
        return "evidence has no file name"
    if _BAD.search(name) or name.strip(". ") == "" or ".." in name:
        return f"evidence {name!r}: not a plain file name (no folders, '..' or control characters)"
    return None


def policy_problem(name: str, size: int, policy: EvidencePolicy) -> str | None:
    """Why the rule set refuses the file (its name, type or size), or None."""
    if why := name_problem(name):
        return why
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in policy.types:
        return f"evidence {name!r}: type {ext or '(none)'!r} is not accepted (only {'/'.join(policy.types)})"
    if size > policy.max_bytes:
        return f"evidence {name!r} is {size:,} bytes: the limit is {policy.max_bytes:,}"
    return None

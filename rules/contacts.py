"""Reading a county's contacts file: YAML text in, a validated ContactBook out.

Like the plan files, every problem is a SourceError at its line; a unit id that the unit
directory does not know is an error at the line that names it. Pure: the caller reads files.
"""

from __future__ import annotations

from models.contacts import ContactBook
from models.plan import UnitDirectory
from rules.loading import SourceError, parse_yaml, validate


def parse_contacts(text: str, *, path: str, directory: UnitDirectory) -> ContactBook:
    """Parse a contacts file and check its unit ids against `directory`."""
    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a contacts file is a mapping (region, directory, units)")
    units = data.get("units")
    if units is not None and not isinstance(units, dict):
        raise SourceError(path, lines.get(("units",), 1), "units: a mapping of unit id → contact details")
    book = validate(ContactBook, data, path=path, lines=lines)
    known = directory.by_id()
    for uid in book.units:
        if uid not in known:
            raise SourceError(
                path,
                lines.get(("units", uid), 1),
                f"unknown unit {uid!r}: not in the unit directory ({directory.region})",
            )
    return book


def directory_reference(text: str, *, path: str) -> tuple[str, int] | None:
    """The contacts file's `directory:` file name and its line, or None when it names none."""
    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict) or "directory" not in data:
        return None
    ref = data["directory"]
    if not isinstance(ref, str):
        raise SourceError(path, lines[("directory",)], "directory: must name the unit directory file")
    return ref, lines[("directory",)]

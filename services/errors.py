"""The one family of refusals a service raises; each door maps it once (exit code, HTTP status).

A file that does not read is a `rules.loading.SourceError` (`FILE:LINE: message`), kept as it is:
doors treat it as `Invalid`.
"""

from __future__ import annotations


class Refused(Exception):
    """The service did not do what was asked; `message` says why, in words for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Refused):
    """No such campaign, obligation, order or paper, or nothing open holds it."""


class Forbidden(Refused):
    """The actor may not do this: another unit's work, a step only the office takes."""


class Invalid(Refused):
    """The input is wrong: a date, a file, a value out of range."""


class Conflict(Refused):
    """The campaign refused it as things stand: twice, already started, closed, a workflow's own refusal."""

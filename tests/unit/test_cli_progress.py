"""The command line's progress display redraws slowly enough not to compete with a rehearsal's
worker, which runs in the same process and needs the GIL."""

from __future__ import annotations

from cli import common


def test_progress_redraws_at_most_twice_a_second() -> None:
    bar = common.progress("rehearsing", "{task.percentage:>3.0f}%")
    assert bar.live.auto_refresh
    assert bar.live.refresh_per_second <= 2

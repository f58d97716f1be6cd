"""Plan time and server time.

Every date in a plan is a date in Asia/Shanghai. A campaign carries a fixed offset so the 2021
plan can be rehearsed today: plan time = server time - offset, fixed at launch (0 when live).
Rules reason in plan time; timers sleep in server time; the audit trail records both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

# China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact for every
# plan date and, unlike zoneinfo, needs no tz database inside the workflow sandbox.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")


def at(d: date, hhmm: str = "09:00") -> datetime:
    """A plan date at a wall-clock time in Asia/Shanghai."""
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(d, time(h, m), tzinfo=CST)


class Clock(BaseModel):
    """The fixed relation between a campaign's plan time and the server's time.

    At the default speed of 1, plan time = server time - offset. A drill on a real server may
    run plan time faster (speed N: N plan seconds per server second) from `anchor`, the server
    time at launch. Rehearsals on the time-skipping server need no speed, unless the campaign is
    longer than the 10 years that server lets a workflow live.
    """

    model_config = ConfigDict(frozen=True)

    offset_seconds: int = 0
    speed: int = Field(default=1, ge=1)
    anchor: datetime | None = None

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self.offset_seconds)

    def _anchor(self) -> datetime:
        return self.anchor or datetime(2000, 1, 1, tzinfo=UTC)

    def plan_time(self, server_time: datetime) -> datetime:
        a = self._anchor()
        return (a - self.offset + (server_time - a) * self.speed).astimezone(CST)

    def server_time(self, plan_time: datetime) -> datetime:
        a = self._anchor()
        return (a + (plan_time - (a - self.offset)) / self.speed).astimezone(UTC)

    def server_duration(self, plan_duration: timedelta) -> timedelta:
        return plan_duration / self.speed

    @classmethod
    def rehearse(cls, *, plan_start: datetime, server_now: datetime, speed: int = 1) -> Clock:
        """A clock on which plan_start is now (whole seconds, so it round-trips exactly)."""
        offset = int((server_now - plan_start).total_seconds())
        return cls(offset_seconds=offset, speed=speed, anchor=server_now if speed != 1 else None)

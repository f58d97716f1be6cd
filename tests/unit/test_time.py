"""Plan time and server time: a campaign's clock is a fixed offset between them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from models.time import CST, Clock, at

FAST = settings(max_examples=200, deadline=None)
ZONES = st.sampled_from([UTC, CST, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
INSTANTS = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2060, 12, 31), timezones=ZONES)
OFFSETS = st.integers(min_value=-30 * 366 * 86400, max_value=30 * 366 * 86400)


def test_at_is_a_plan_date_in_shanghai() -> None:
    t = at(date(2021, 4, 30))
    assert t == datetime(2021, 4, 30, 1, 0, tzinfo=UTC)
    assert t.utcoffset() == timedelta(hours=8)
    assert at(date(2021, 4, 30), "17:30").time().isoformat() == "17:30:00"


def test_a_live_clock_is_the_identity() -> None:
    clock = Clock()
    t = at(date(2021, 5, 6))
    assert clock.server_time(t) == t
    assert clock.server_time(t).utcoffset() == timedelta(0)
    assert clock.plan_time(clock.server_time(t)) == t


@FAST
@given(offset=OFFSETS, t=INSTANTS)
def test_plan_to_server_and_back(offset: int, t: datetime) -> None:
    clock = Clock(offset_seconds=offset)
    server = clock.server_time(t)
    assert server.utcoffset() == timedelta(0)
    assert server - t == timedelta(seconds=offset)
    back = clock.plan_time(server)
    assert back == t
    assert back.utcoffset() == timedelta(hours=8)


@FAST
@given(offset=OFFSETS, s=INSTANTS)
def test_server_to_plan_and_back(offset: int, s: datetime) -> None:
    clock = Clock(offset_seconds=offset)
    assert clock.server_time(clock.plan_time(s)) == s


@FAST
@given(
    plan_start=INSTANTS.map(lambda d: d.replace(microsecond=0)),
    now=INSTANTS.map(lambda d: d.replace(microsecond=0)),
)
def test_rehearse_puts_plan_start_at_server_now(plan_start: datetime, now: datetime) -> None:
    clock = Clock.rehearse(plan_start=plan_start, server_now=now)
    assert clock.plan_time(now) == plan_start
    assert clock.server_time(plan_start) == now
    # Later plan instants stay the same distance apart in server time.
    later = plan_start + timedelta(days=245, hours=3)
    assert clock.server_time(later) - now == later - plan_start


@FAST
@given(plan_start=INSTANTS, now=INSTANTS)
def test_rehearse_with_fractions_of_a_second(plan_start: datetime, now: datetime) -> None:
    # The offset is whole seconds (so it survives serialisation exactly); the start is then
    # off by less than a second.
    clock = Clock.rehearse(plan_start=plan_start, server_now=now)
    assert isinstance(clock.offset_seconds, int)
    assert abs(clock.plan_time(now) - plan_start) < timedelta(seconds=1)
    assert Clock.model_validate_json(clock.model_dump_json()) == clock


def test_rehearsing_the_2021_plan() -> None:
    now = datetime(2030, 3, 1, 2, 15, tzinfo=UTC)
    clock = Clock.rehearse(plan_start=at(date(2021, 4, 30)), server_now=now)
    assert clock.plan_time(now) == at(date(2021, 4, 30))
    first_escalation = at(date(2021, 5, 6))
    assert clock.server_time(first_escalation) == now + timedelta(days=6)

"""chat.queue: opening hours, queue length, order, positions, the counsellors' listing, routing, pow difficulty."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from chat.queue import (
    Counsellor,
    Interval,
    Waiting,
    is_open,
    local_minutes_bin,
    next_change,
    next_opening,
    queue_is_full,
    queue_listing,
    queue_order,
    queue_position,
    route,
    waiting_minutes,
)

UTC = dt.UTC
MONDAY_NOON_AMSTERDAM = dt.datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 12:00 in Amsterdam (CET)
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_no_hours_configured_means_open() -> None:
    assert is_open(MONDAY_NOON_AMSTERDAM, [], [], "Europe/Amsterdam")


def test_open_inside_an_interval_in_the_service_time_zone() -> None:
    hours = [Interval(0, dt.time(12, 0), dt.time(13, 0))]
    assert is_open(MONDAY_NOON_AMSTERDAM, hours, [], "Europe/Amsterdam")
    # 11:00 UTC is 11:00 in London: before opening there.
    assert not is_open(MONDAY_NOON_AMSTERDAM, hours, [], "Europe/London")


def test_closing_time_is_exclusive_and_other_days_are_closed() -> None:
    hours = [Interval(0, dt.time(9, 0), dt.time(12, 0)), Interval(1, dt.time(9, 0), dt.time(17, 0))]
    assert not is_open(MONDAY_NOON_AMSTERDAM, hours, [], "Europe/Amsterdam")
    assert is_open(MONDAY_NOON_AMSTERDAM + dt.timedelta(days=1), hours, [], "Europe/Amsterdam")
    assert not is_open(MONDAY_NOON_AMSTERDAM + dt.timedelta(days=2), hours, [], "Europe/Amsterdam")


def test_a_closed_day_closes_even_without_hours() -> None:
    assert not is_open(MONDAY_NOON_AMSTERDAM, [], [dt.date(2026, 11, 30)], "Europe/Amsterdam")
    assert is_open(MONDAY_NOON_AMSTERDAM, [], [dt.date(2026, 12, 1)], "Europe/Amsterdam")


def test_closed_day_is_the_local_date() -> None:
    late_sunday_utc = dt.datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # already Monday in Amsterdam
    assert not is_open(late_sunday_utc, [], [dt.date(2026, 11, 30)], "Europe/Amsterdam")
    assert is_open(late_sunday_utc, [], [dt.date(2026, 11, 30)], "UTC")


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    assert is_open(MONDAY_NOON_AMSTERDAM, [Interval(0, dt.time(11, 0), dt.time(12, 0))], [], "Not/AZone")


AMSTERDAM = "Europe/Amsterdam"
WEEKDAY_HOURS = [Interval(day, dt.time(9, 0), dt.time(17, 0)) for day in range(5)]


def amsterdam(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(AMSTERDAM))  # type: ignore[misc]


def test_next_opening_is_now_while_open() -> None:
    assert next_opening(MONDAY_NOON_AMSTERDAM, WEEKDAY_HOURS, [], AMSTERDAM) == MONDAY_NOON_AMSTERDAM
    assert next_opening(MONDAY_NOON_AMSTERDAM, [], [], AMSTERDAM) == MONDAY_NOON_AMSTERDAM


def test_next_opening_later_today_tomorrow_and_after_the_weekend() -> None:
    early_monday = amsterdam(2026, 11, 30, 7, 15)
    assert next_opening(early_monday, WEEKDAY_HOURS, [], AMSTERDAM) == amsterdam(2026, 11, 30, 9, 0)
    monday_evening = amsterdam(2026, 11, 30, 17, 0)  # closing time is exclusive: closed at 17:00 sharp
    assert next_opening(monday_evening, WEEKDAY_HOURS, [], AMSTERDAM) == amsterdam(2026, 12, 1, 9, 0)
    friday_evening = amsterdam(2026, 12, 4, 20, 0)
    assert next_opening(friday_evening, WEEKDAY_HOURS, [], AMSTERDAM) == amsterdam(2026, 12, 7, 9, 0)


def test_next_opening_skips_closed_days_and_picks_the_next_interval_of_a_split_day() -> None:
    hours = [*WEEKDAY_HOURS, Interval(0, dt.time(19, 0), dt.time(22, 0))]
    monday_afternoon = amsterdam(2026, 11, 30, 17, 30)
    assert next_opening(monday_afternoon, hours, [], AMSTERDAM) == amsterdam(2026, 11, 30, 19, 0)
    christmas = [dt.date(2026, 12, 24), dt.date(2026, 12, 25)]
    assert next_opening(amsterdam(2026, 12, 23, 18, 0), hours, christmas, AMSTERDAM) == amsterdam(2026, 12, 28, 9, 0)


def test_a_closed_day_without_hours_opens_at_the_next_midnight() -> None:
    assert next_opening(MONDAY_NOON_AMSTERDAM, [], [dt.date(2026, 11, 30)], AMSTERDAM) == amsterdam(2026, 12, 1, 0, 0)


def test_next_opening_is_in_the_service_time_zone() -> None:
    # 07:30 UTC on a Monday is 08:30 in Amsterdam (opens 09:00 there) but 07:30 in London (opens 09:00 there).
    now = dt.datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    assert next_opening(now, WEEKDAY_HOURS, [], AMSTERDAM) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert next_opening(now, WEEKDAY_HOURS, [], "Europe/London") == dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_next_opening_across_a_daylight_saving_change() -> None:
    # Clocks go back on 25 October 2026: Monday 09:00 is then 08:00 UTC, the Friday before it was 07:00 UTC.
    assert next_opening(amsterdam(2026, 10, 23, 18, 0), WEEKDAY_HOURS, [], AMSTERDAM) == dt.datetime(
        2026, 10, 26, 8, 0, tzinfo=UTC)


def test_no_opening_known_within_the_lookahead() -> None:
    every_day = [dt.date(2026, 11, 30) + dt.timedelta(days=n) for n in range(500)]
    assert next_opening(MONDAY_NOON_AMSTERDAM, WEEKDAY_HOURS, every_day, AMSTERDAM) is None
    assert next_opening(MONDAY_NOON_AMSTERDAM, [], [], AMSTERDAM) is not None  # always open


def test_next_change_while_open_is_the_closing_time_and_none_when_always_open() -> None:
    assert next_change(MONDAY_NOON_AMSTERDAM, WEEKDAY_HOURS, [], AMSTERDAM) == amsterdam(2026, 11, 30, 17, 0)
    assert next_change(MONDAY_NOON_AMSTERDAM, [], [], AMSTERDAM) is None
    assert next_change(MONDAY_NOON_AMSTERDAM, [], [dt.date(2026, 12, 2)], AMSTERDAM) == amsterdam(2026, 12, 2, 0, 0)
    # Two intervals that touch are one opening: it closes at the end of the second.
    touching = [Interval(0, dt.time(9, 0), dt.time(13, 0)), Interval(0, dt.time(13, 0), dt.time(17, 0))]
    assert next_change(MONDAY_NOON_AMSTERDAM, touching, [], AMSTERDAM) == amsterdam(2026, 11, 30, 17, 0)


def test_next_change_agrees_with_is_open_minute_by_minute() -> None:
    hours = [*WEEKDAY_HOURS, Interval(2, dt.time(19, 30), dt.time(21, 0)), Interval(5, dt.time(10, 0), dt.time(12, 0))]
    closed = [dt.date(2026, 12, 3)]
    moment = amsterdam(2026, 11, 30, 0, 0)
    change = next_change(moment, hours, closed, AMSTERDAM)
    while moment < amsterdam(2026, 12, 8, 0, 0):
        assert change is not None
        state = is_open(moment, hours, closed, AMSTERDAM)
        step = moment + dt.timedelta(minutes=15)
        if step < change:
            assert is_open(step, hours, closed, AMSTERDAM) == state, step
        else:
            assert is_open(change, hours, closed, AMSTERDAM) != state, change
            change = next_change(change, hours, closed, AMSTERDAM)
        moment = step


def test_queue_full() -> None:
    assert not queue_is_full(29, 30)
    assert queue_is_full(30, 30)


def test_first_come_first_served_with_returned_chats_first() -> None:
    chats = [Waiting("b", "en", at(2)), Waiting("a", "en", at(1)), Waiting("r", "en", at(5), front=True),
             Waiting("s", "nl", at(4), front=True)]
    assert [c.chat for c in queue_order(chats)] == ["s", "r", "a", "b"]
    assert queue_position("a", chats) == 3
    assert queue_position("s", chats) == 1
    assert queue_position("missing", chats) == 0


def test_listing_in_whole_minutes() -> None:
    chats = [Waiting("a", "en", at(0)), Waiting("b", "nl", at(3.5))]
    assert queue_listing(chats, at(5.99)) == [{"chat": "a", "lang": "en", "waiting": 5},
                                              {"chat": "b", "lang": "nl", "waiting": 2}]
    assert waiting_minutes(at(1), at(0)) == 0


def counsellor(channel: str, user: int, holding: int = 0, since: float = 0, langs: tuple[str, ...] = ("en", "nl")
               ) -> Counsellor:
    return Counsellor(channel=channel, user=user, available_since=at(since), holding=holding, languages=langs)


def test_route_fcfs_to_least_loaded_then_longest_available() -> None:
    chats = [Waiting("first", "en", at(1)), Waiting("second", "en", at(2))]
    offers = route(chats, [counsellor("c1", 1, holding=1), counsellor("c2", 2, since=5), counsellor("c3", 3)], 2)
    assert offers == [("first", "c3"), ("second", "c2")]


def test_route_respects_the_per_counsellor_cap_across_tabs() -> None:
    chats = [Waiting("a", "en", at(1)), Waiting("b", "en", at(2))]
    assert route(chats, [counsellor("tab1", 1, holding=2), counsellor("tab2", 1, holding=2)], 2) == []
    assert route(chats, [counsellor("tab1", 1, holding=1), counsellor("tab2", 1, holding=1)], 2) == [("a", "tab1")]


def test_route_one_offer_per_socket_per_pass() -> None:
    chats = [Waiting("a", "en", at(1)), Waiting("b", "en", at(2))]
    assert route(chats, [counsellor("c1", 1)], 5) == [("a", "c1")]


def test_route_by_language() -> None:
    chats = [Waiting("nl-chat", "nl", at(1)), Waiting("en-chat", "en", at(2))]
    assert route(chats, [counsellor("c1", 1, langs=("en",))], 2) == [("en-chat", "c1")]


def test_route_skips_chats_whose_visitor_is_away() -> None:
    chats = [Waiting("away", "en", at(1), visitor_present=False), Waiting("here", "en", at(2))]
    assert route(chats, [counsellor("c1", 1)], 2) == [("here", "c1")]


def test_route_a_reserved_chat_only_to_that_colleague_even_over_cap() -> None:
    chats = [Waiting("for-2", "en", at(1), front=True, reserved_for=2), Waiting("open", "en", at(2))]
    assert route(chats, [counsellor("c1", 1)], 2) == [("open", "c1")]
    assert route(chats, [counsellor("c2", 2, holding=2)], 2) == [("for-2", "c2")]


def test_a_reserved_chat_reaches_its_colleague_also_when_they_take_no_new_chats() -> None:
    """A warm hand-over (or one coming back to its sender) is not a new chat: someone chose this person."""
    chats = [Waiting("for-2", "en", at(1), front=True, reserved_for=2), Waiting("open", "en", at(2))]
    busy = replace(counsellor("c2", 2), available=False)
    assert route(chats, [busy], 2) == [("for-2", "c2")]
    # ... but a socket that takes no new chats is never given an open one.
    assert route([Waiting("open", "en", at(2))], [busy], 2) == []


def test_returned_chat_is_offered_first() -> None:
    chats = [Waiting("old", "en", at(1)), Waiting("returned", "en", at(9), front=True)]
    assert route(chats, [counsellor("c1", 1)], 2) == [("returned", "c1")]


@pytest.mark.parametrize(("seconds", "expected"), [(0, "<1"), (59.9, "<1"), (60, "1-2"), (299, "2-5"),
                                                   (600, "10-20"), (2399, "20-40"), (2400, "40+")])
def test_local_minutes_bin_matches_the_metrics_bins(seconds: float, expected: str) -> None:
    from helpline.metrics.catalogue import minutes_bin

    assert local_minutes_bin(seconds) == expected == minutes_bin(seconds)


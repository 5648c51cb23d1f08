"""Counters: one cell per metric, dimension and day, and hour-of-week counts kept only per block. That no
increment is lost under many processes and threads is tests/scaled/test_metrics_concurrent_increments.py."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from helpline.metrics.actions import block_start, hour_of_week, increment, increment_each, increment_hour_of_week
from helpline.metrics.models import DailyCount, HourOfWeekCount

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.django_db
def test_increment_adds_to_one_cell() -> None:
    day = datetime.date(2026, 3, 2)
    increment("chat.offered", "en", day=day)
    increment("chat.offered", "en", amount=3, day=day)
    increment("chat.offered", "nl", day=day)
    assert DailyCount.objects.get(metric="chat.offered", dimension="en", day=day).count == 4
    assert DailyCount.objects.count() == 2
    with pytest.raises(ValueError, match="positive"):
        increment("chat.offered", "en", amount=0)


@pytest.mark.django_db
def test_increment_each_counts_several_cells_in_one_statement() -> None:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    day = datetime.date(2026, 3, 2)
    increment("chat.answered", "en", day=day)
    with transaction.atomic(), CaptureQueriesContext(connection) as statements:
        increment_each(("chat.answered", "en"), ("chat.wait_bin", "<1"), ("chat.answered", "en"), day=day)
    assert len(statements.captured_queries) == 1, statements.captured_queries
    assert DailyCount.objects.get(metric="chat.answered", dimension="en", day=day).count == 3
    assert DailyCount.objects.get(metric="chat.wait_bin", dimension="<1", day=day).count == 1
    with pytest.raises(ValueError):  # one cell the catalogue does not know: nothing is counted
        increment_each(("chat.answered", "en"), ("chat.no_such_metric", ""), day=day)
    assert DailyCount.objects.get(metric="chat.answered", dimension="en", day=day).count == 3
    increment_each(day=day)  # nothing to count: no statement, no error
    assert DailyCount.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("metric", "dimension"), [
    ("chat.offerd", "en"),  # a misspelt metric
    ("chat.offered", "de"),  # a language the site does not offer
    ("chat.rating", "6"),
    ("chat.wrapup", "=cmd|x"),
    ("selfhelp.module_completed", "no-such-module"),
    ("chat.demand_how", ""),  # an hour-of-week metric has its own function
])
def test_contract_increment_refuses_what_the_catalogue_does_not_know(metric: str, dimension: str) -> None:
    """Issue 15: the catalogue is enforced where counters are written, so no caller can invent a row."""
    with pytest.raises(ValueError, match="catalogue"):
        increment(metric, dimension, day=datetime.date(2026, 3, 2))
    assert not DailyCount.objects.exists()


def test_blocks_are_fixed_four_week_runs_from_a_monday() -> None:
    assert block_start(datetime.date(2024, 1, 1)) == datetime.date(2024, 1, 1)
    assert block_start(datetime.date(2024, 1, 28)) == datetime.date(2024, 1, 1)
    assert block_start(datetime.date(2024, 1, 29)) == datetime.date(2024, 1, 29)
    assert block_start(datetime.date(2023, 12, 31)) == datetime.date(2023, 12, 4)
    for offset in range(0, 800, 37):
        start = block_start(datetime.date(2025, 1, 1) + datetime.timedelta(days=offset))
        assert start.weekday() == 0 and (start - datetime.date(2024, 1, 1)).days % 28 == 0


def test_hour_of_week_uses_local_time() -> None:
    assert hour_of_week(datetime.datetime(2026, 3, 2, 0, 30, tzinfo=AMSTERDAM)) == 0  # Monday 00:30
    assert hour_of_week(datetime.datetime(2026, 3, 8, 23, 59, tzinfo=AMSTERDAM)) == 167  # Sunday 23:59
    # Sunday 23:30 UTC is Monday 00:30 in Amsterdam (winter time).
    assert hour_of_week(datetime.datetime(2026, 3, 1, 23, 30, tzinfo=datetime.UTC)) == 0


@pytest.mark.django_db
def test_contract_hour_of_week_keeps_only_the_block() -> None:
    increment_hour_of_week("chat.demand_how", datetime.datetime(2026, 3, 3, 14, 10, tzinfo=AMSTERDAM))
    increment_hour_of_week("chat.demand_how", datetime.datetime(2026, 3, 17, 14, 50, tzinfo=AMSTERDAM))
    increment_hour_of_week("chat.capacity_how", datetime.datetime(2026, 3, 3, 14, 0, tzinfo=AMSTERDAM), amount=2)
    rows = list(HourOfWeekCount.objects.values_list("metric", "hour_of_week", "period_start", "count")
                .order_by("metric"))
    start = block_start(datetime.date(2026, 3, 3))
    assert start == block_start(datetime.date(2026, 3, 17))
    assert rows == [("chat.capacity_how", 38, start, 2), ("chat.demand_how", 38, start, 2)]
    with pytest.raises(ValueError, match="counted by day in the catalogue"):
        increment_hour_of_week("chat.offered", datetime.datetime(2026, 3, 3, tzinfo=AMSTERDAM))

"""Incrementing counters atomically on SQLite and PostgreSQL (one upsert, no read-modify-write)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from helpline.metrics.catalogue import check_countable, minutes_bin
from helpline.metrics.models import DailyCount, HourOfWeekCount

__all__ = ["BLOCK_DAYS", "block_start", "hour_of_week", "increment", "increment_each", "increment_hour_of_week",
           "minutes_bin", "today"]

# Hour-of-week counts are summed over fixed 4-week blocks counted from this Monday (privacy.md: ≥ 4 weeks).
BLOCK_EPOCH = datetime.date(2024, 1, 1)
BLOCK_DAYS = 28


def today() -> datetime.date:
    """The service's local day; the finest time unit any counter keeps."""
    return timezone.localdate()


def block_start(day: datetime.date) -> datetime.date:
    """The Monday that starts the fixed 4-week block `day` falls in."""
    return BLOCK_EPOCH + datetime.timedelta(days=(day - BLOCK_EPOCH).days // BLOCK_DAYS * BLOCK_DAYS)


def hour_of_week(moment: datetime.datetime) -> int:
    """0 for Monday 00:00–00:59 local time … 167 for Sunday 23:00–23:59."""
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return local.weekday() * 24 + local.hour


def _upsert(table: str, columns: tuple[str, ...], values: list[Any], amount: int) -> None:
    _upsert_rows(table, columns, [(*values, amount)])


def _upsert_rows(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One statement adding each row's last value to the cell its other values name (no cell twice: PostgreSQL
    refuses a statement that updates one row twice)."""
    names = ", ".join((*columns, "count"))
    row_marks = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    sql = (f"INSERT INTO {table} ({names}) VALUES {', '.join([row_marks] * len(rows))} "  # noqa: S608 (ours)
           f"ON CONFLICT ({', '.join(columns)}) DO UPDATE SET count = {table}.count + excluded.count")
    values = [value for row in rows for value in row]
    # One statement is atomic by itself. Inside the caller's transaction (a chat action) it runs as part of it:
    # a savepoint there would add two statements to every counted action and change nothing, since no caller
    # goes on after a failed count. On its own it takes a transaction of its own, as Django's writes do.
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, values)


def increment(metric: str, dimension: str = "", amount: int = 1, day: datetime.date | None = None) -> None:
    """Add `amount` to one counter cell, creating it if needed; safe under concurrent callers.

    Only what the catalogue defines may be counted (NotInCatalogue, a ValueError, otherwise), so no caller
    can create a row that managers would then see.

    `INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count` is a single atomic statement on
    both SQLite (≥3.24) and PostgreSQL, so no increment is lost however many processes race.
    """
    if amount < 1:
        raise ValueError("amount must be positive")
    check_countable(metric, dimension)
    _upsert(DailyCount._meta.db_table, ("metric", "dimension", "day"), [metric, dimension, day or today()], amount)


def increment_each(*cells: tuple[str, str], day: datetime.date | None = None) -> None:
    """Add one to each (metric, dimension) cell of `day` (default today) in one statement; a cell named twice
    gets two. Each must be in the catalogue, or nothing is counted. An action that counts several things
    at once (a chat answered: by language, by wait, by service level) makes one trip for them, not one each.
    """
    amounts: dict[tuple[str, str], int] = {}
    for metric, dimension in cells:
        check_countable(metric, dimension)
        amounts[(metric, dimension)] = amounts.get((metric, dimension), 0) + 1
    if not amounts:
        return
    cell_day = day or today()
    _upsert_rows(DailyCount._meta.db_table, ("metric", "dimension", "day"),
                 [(metric, dimension, cell_day, amount) for (metric, dimension), amount in amounts.items()])


def increment_hour_of_week(metric: str, when: datetime.datetime, amount: int = 1) -> None:
    """Count `metric` in the hour of the week `when` falls in, inside its 4-week block (never finer)."""
    if amount < 1:
        raise ValueError("amount must be positive")
    check_countable(metric, "", hour_of_week=True)
    local = timezone.localtime(when) if timezone.is_aware(when) else when
    _upsert(HourOfWeekCount._meta.db_table, ("metric", "hour_of_week", "period_start"),
            [metric, hour_of_week(local), block_start(local.date())], amount)

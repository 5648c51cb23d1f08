"""Incrementing counters atomically on SQLite and PostgreSQL (one upsert, no read-modify-write)."""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.utils import timezone

from helpline.metrics.models import DailyCount


def today() -> datetime.date:
    """The service's local day; the finest time unit any counter keeps."""
    return timezone.localdate()


def increment(metric: str, dimension: str = "", amount: int = 1, day: datetime.date | None = None) -> None:
    """Add `amount` to one counter cell, creating it if needed; safe under concurrent callers.

    `INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count` is a single atomic statement on
    both SQLite (≥3.24) and PostgreSQL, so no increment is lost however many processes race.
    """
    if amount < 1:
        raise ValueError("amount must be positive")
    table = DailyCount._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (metric, dimension, day, count) VALUES (%s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (metric, dimension, day) DO UPDATE SET count = "
            f"{table}.count + excluded.count",
            [metric, dimension, day or today(), amount],
        )

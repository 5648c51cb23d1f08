"""The only record of what visitors did: day counters, never events."""

from django.db import models


class DailyCount(models.Model):
    """How many times `metric` happened with `dimension` on `day` (a date; no time is ever stored)."""

    metric = models.CharField(max_length=64)
    dimension = models.CharField(max_length=64, blank=True, default="")
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["metric", "dimension", "day"], name="one_count_per_cell")]
        indexes = [models.Index(fields=["metric", "day"])]

    def __str__(self) -> str:
        return f"{self.metric}[{self.dimension}] {self.day}: {self.count}"


class HourOfWeekCount(models.Model):
    """How many times `metric` happened in hour `hour_of_week` (0 = Monday 00:00–01:00 local time) summed over
    the 4-week block starting on `period_start` (a Monday); nothing finer than the block is ever kept."""

    metric = models.CharField(max_length=64)
    hour_of_week = models.PositiveSmallIntegerField()
    period_start = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "hour_of_week", "period_start"], name="one_count_per_hour_cell"),
            models.CheckConstraint(condition=models.Q(hour_of_week__lt=168), name="hour_of_week_in_range"),
        ]
        indexes = [models.Index(fields=["metric", "period_start"])]

    def __str__(self) -> str:
        return f"{self.metric} h{self.hour_of_week} block {self.period_start}: {self.count}"

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

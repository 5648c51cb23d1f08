"""Disclosure control: closed fixed periods, small-count suppression, and totals that give nothing away.

The method, and the reasoning behind it, is in docs/metrics.md ("Disclosure control"). In short:

- Periods are whole, ended weeks, months, quarters and years; nothing partial, nothing custom.
- A count from 1 to threshold-1 is shown as "<5" (primary suppression); 0 is shown as 0.
- Within every table the total is assumed known exactly (it may be shown by another breakdown of the
  same events), so further cells are hidden, smallest first, shown as "*" (secondary suppression), until an
  exact attacker that knows the total, the shown cells and how this algorithm works cannot narrow any
  hidden cell to a single value; if no choice of cells achieves that, the whole table is withheld.
- Periods form one tree, so no two overlap without one containing the other: a "week" is a part of a
  month (days 1–7, 8–14, 15–21, 22–end), published with its month; a quarter or a year is the sum of what
  its months show (ranges where a month hid something), so coarser periods reveal nothing the months do not.
- Every published table is a one-way breakdown of one total (by a dimension, or a month by its weeks) and no
  cross-tabulation is ever published; weeks therefore show totals only. docs/metrics.md gives the argument
  and tests/unit/test_metrics_release_audit.py checks it by exact elimination over a year of random data.
- A change or a percentage is shown only when every figure it is built from is shown exactly.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

PERIOD_KINDS = ("week", "month", "quarter", "year")
BASE_KINDS = ("month",)  # counted from days; weeks are parts of a month's total; quarters and years sums of months
# A month's "weeks" start on these days; the last one runs to the month's end (7 to 10 days).
WEEK_STARTS = (1, 8, 15, 22)


class PeriodError(ValueError):
    """A period request that is malformed, unknown, or not yet ended; the message is safe to show.

    `code` says which (kind, format, missing, early, open, parameter), so views can word it in any language.
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, order=True)
class Period:
    """A whole calendar period [start, end): an ISO week, a month, a quarter or a year."""

    kind: str
    start: datetime.date
    end: datetime.date  # exclusive

    @property
    def key(self) -> str:
        """The value used in URLs: 2026-02-w1 (days 1–7 of February), 2026-02, 2026-Q1, 2026."""
        if self.kind == "week":
            return f"{self.start.year}-{self.start.month:02d}-w{self.week_number}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    @property
    def last_day(self) -> datetime.date:
        return self.end - datetime.timedelta(days=1)

    @property
    def week_number(self) -> int:
        """1–4: which part of its month a week is."""
        return WEEK_STARTS.index(self.start.day) + 1

    @property
    def month(self) -> Period:
        """The month a week is part of (a month is its own)."""
        return period_containing("month", self.start)

    def weeks(self) -> list[Period]:
        """The four parts of a month, in order."""
        if self.kind != "month":
            raise ValueError("only a month is made of weeks")
        return [period_containing("week", self.start.replace(day=day)) for day in WEEK_STARTS]

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return period_containing(self.kind, self.start - datetime.timedelta(days=1))

    def months(self) -> list[Period]:
        """The months a quarter or year is made of (a month is made of itself)."""
        if self.kind == "week":
            raise ValueError("a week is not made of months")
        months, day = [], self.start
        while day < self.end:
            month = period_containing("month", day)
            months.append(month)
            day = month.end
        return months

    def is_closed(self, today: datetime.date) -> bool:
        """True once the period may be shown: it lies before `today` (the service's local date), and for a week,
        its whole month does too. A week is one part of its month's total, so its figure is decided, once, with
        the other parts: shown earlier, a later part could make an earlier figure subtractable."""
        return (self.month.end if self.kind == "week" else self.end) <= today


def period_containing(kind: str, day: datetime.date) -> Period:
    """The period of `kind` that `day` falls in."""
    if kind == "week":
        first = max(d for d in WEEK_STARTS if d <= day.day)
        month = period_containing("month", day)
        following = [d for d in WEEK_STARTS if d > first]
        end = day.replace(day=following[0]) if following else month.end
        return Period(kind, day.replace(day=first), end)
    if kind == "month":
        start = day.replace(day=1)
        return Period(kind, start, start + datetime.timedelta(days=calendar.monthrange(day.year, day.month)[1]))
    if kind == "quarter":
        first_month = (day.month - 1) // 3 * 3 + 1
        start = datetime.date(day.year, first_month, 1)
        end = datetime.date(day.year + 1, 1, 1) if first_month == 10 else datetime.date(day.year, first_month + 3, 1)
        return Period(kind, start, end)
    if kind == "year":
        return Period(kind, datetime.date(day.year, 1, 1), datetime.date(day.year + 1, 1, 1))
    raise PeriodError(f"Unknown period kind {kind!r}: use week, month, quarter or year.", "kind")


def latest_closed(kind: str, today: datetime.date) -> Period:
    """The most recent period of `kind` that may be shown on `today` (see Period.is_closed)."""
    period = period_containing(kind, today).previous()
    while not period.is_closed(today):
        period = period.previous()
    return period


def closed_periods(kind: str, today: datetime.date, count: int) -> list[Period]:
    """The `count` most recent closed periods of `kind`, newest first."""
    periods = [latest_closed(kind, today)]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


_KEY_PATTERNS = {
    "week": re.compile(r"(\d{4})-(\d{2})-w([1-4])", re.ASCII),
    "month": re.compile(r"(\d{4})-(\d{2})", re.ASCII),
    "quarter": re.compile(r"(\d{4})-Q([1-4])", re.ASCII),
    "year": re.compile(r"(\d{4})", re.ASCII),
}
EARLIEST_YEAR = 2000
KEY_EXAMPLES = {"week": "2026-02-w1", "month": "2026-02", "quarter": "2026-Q1", "year": "2026"}


def parse_period(kind: str, key: str, today: datetime.date) -> Period:
    """Validate a requested period strictly; raise PeriodError with a message fit for a 400 page."""
    if kind not in PERIOD_KINDS:
        raise PeriodError("Choose a period: week, month, quarter or year.", "kind")
    match = _KEY_PATTERNS[kind].fullmatch(key)
    if match is None:
        raise PeriodError(f"A {kind} is written like {KEY_EXAMPLES[kind]}.", "format")
    year = int(match.group(1))
    if year < EARLIEST_YEAR:
        raise PeriodError(f"There are no figures before {EARLIEST_YEAR}.", "early")
    try:
        if kind == "week":
            start = datetime.date(year, int(match.group(2)), WEEK_STARTS[int(match.group(3)) - 1])
        elif kind == "month":
            start = datetime.date(year, int(match.group(2)), 1)
        elif kind == "quarter":
            start = datetime.date(year, (int(match.group(2)) - 1) * 3 + 1, 1)
        else:
            start = datetime.date(year, 1, 1)
        period = period_containing(kind, start)
    except (ValueError, OverflowError):  # month 13, or a period ending past the last date Python can hold
        raise PeriodError(f"There is no such {kind}.", "missing") from None
    if not period.is_closed(today):
        raise PeriodError("That period has not ended yet; only whole, ended periods are shown.", "open")
    return period


# --- Figures -----------------------------------------------------------------------------------------

EXACT, SMALL, HIDDEN, RANGE, ROUNDED = "exact", "small", "hidden", "range", "rounded"


@dataclass(frozen=True)
class Figure:
    """What may be published about one count: its status and the bounds anyone can read from it."""

    status: str
    low: int
    high: int | None  # None: no upper bound is published
    shown: int | None = None  # the number printed for a rounded figure

    @property
    def point(self) -> int | None:
        """A number to draw: the exact count or the rounded one; None when only bounds are shown."""
        if self.status == EXACT:
            return self.low
        return self.shown if self.status == ROUNDED else None

    @property
    def value(self) -> int | None:
        """The exact count, or None when it is not published exactly."""
        return self.low if self.status == EXACT else None

    def display(self, threshold: int) -> str:
        if self.status == EXACT:
            return str(self.low)
        if self.status == SMALL:
            return f"<{threshold}"
        if self.status == HIDDEN:
            return "*"
        if self.status == ROUNDED:
            return str(self.shown)
        if self.high is None:
            return f"≥{self.low}"
        return f"{self.low}–{self.high}"


def exact(n: int) -> Figure:
    return Figure(EXACT, n, n)


def primary(n: int, threshold: int) -> Figure:
    """A single count on its own: 0 and counts ≥ threshold exactly, anything in between as "<threshold"."""
    if n < 0:
        raise ValueError("counts are never negative")
    if 0 < n < threshold:
        return Figure(SMALL, 1, threshold - 1)
    return exact(n)


def rounded(n: int, base: int) -> Figure:
    """A count rounded to the nearest multiple of `base` (0 stays 0, 1 to base-1 is "<base"): no exact value is
    published, so no subtraction can give one. Used where the shape matters more than the count (hour of week)."""
    if n < 0:
        raise ValueError("counts are never negative")
    if n < base:
        return primary(n, base)
    shown = base * ((2 * n + base) // (2 * base))  # half-way rounds up
    return Figure(ROUNDED, shown - base // 2, shown + (base - 1) // 2, shown)


def add(figures: Iterable[Figure], threshold: int) -> Figure:
    """The sum of published figures, as published: exact only if every part is exact."""
    parts = list(figures)
    if all(f.status == EXACT for f in parts):
        return exact(sum(f.low for f in parts))
    if all(f.status in (EXACT, ROUNDED) for f in parts):  # the sum of the printed numbers, and their bounds
        return Figure(ROUNDED, sum(f.low for f in parts), sum(f.high or 0 for f in parts),
                      sum(f.point or 0 for f in parts))
    low = sum(f.low for f in parts)
    high = None if any(f.high is None for f in parts) else sum(f.high for f in parts if f.high is not None)
    if high is not None and low >= 1 and high < threshold:
        return Figure(SMALL, 1, threshold - 1)
    return Figure(RANGE, low, high)


def change(current: Figure, previous: Figure) -> int | None:
    """Change from the previous period, only when both are shown exactly."""
    if current.value is None or previous.value is None:
        return None
    return current.value - previous.value


def percentage(part: Figure, whole: Figure) -> float | None:
    """part/whole in percent, only when both are shown exactly and whole is not 0."""
    if part.value is None or whole.value is None or whole.value == 0:
        return None
    return round(100 * part.value / whole.value, 1)


# --- Tables --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One breakdown of a total over named cells, as published."""

    cells: dict[str, Figure]
    total: Figure
    withheld: bool = False


def attacker_bounds(cells: Mapping[str, Figure], threshold: int) -> dict[str, tuple[int, int | None]]:
    """What someone who knows this algorithm can say about each hidden cell from the column alone."""
    shown_nonzero = [f.low for f in cells.values() if f.status == EXACT and f.low > 0]
    smallest_shown = min(shown_nonzero) if shown_nonzero else None
    bounds: dict[str, tuple[int, int | None]] = {}
    for name, figure in cells.items():
        if figure.status == HIDDEN and figure.low == 0:  # a withheld column: anything from 0 up
            bounds[name] = (0, None)
        elif figure.status == HIDDEN:  # secondary cells are ≥ threshold and ≤ every shown nonzero cell
            bounds[name] = (threshold, smallest_shown)
        elif figure.status == SMALL:
            bounds[name] = (1, threshold - 1)
        else:
            bounds[name] = (figure.low, figure.high)
    return bounds


def feasible_range(
    name: str, bounds: Mapping[str, tuple[int, int | None]], total_low: int, total_high: int
) -> tuple[int, int | None]:
    """The values cell `name` can take, given every cell's bounds and that all cells sum to the total.

    Exact for one linear equation over integer intervals: the other cells can reach every sum between the
    sum of their lows and the sum of their highs.
    """
    low, high = bounds[name]
    others_low = sum(b[0] for n, b in bounds.items() if n != name)
    others_high_parts = [b[1] for n, b in bounds.items() if n != name]
    others_high = None if any(h is None for h in others_high_parts) else sum(h for h in others_high_parts if h)
    new_low = low if others_high is None else max(low, total_low - others_high)
    upper_from_total = total_high - others_low
    new_high = upper_from_total if high is None else min(high, upper_from_total)
    return new_low, new_high


def total_bounds(total: int, threshold: int) -> tuple[int, int]:
    """What may be known about a column's total: exactly, if it is shown exactly anywhere."""
    if 0 < total < threshold:
        return 1, threshold - 1
    return total, total


def is_safe(cells: Mapping[str, Figure], total: int, threshold: int) -> bool:
    """No hidden or small cell can be narrowed to a single value by subtraction from the total, and the hidden
    cells together (always the total minus the shown cells) are not a small count of a merged category."""
    bounds = attacker_bounds(cells, threshold)
    total_low, total_high = total_bounds(total, threshold)
    if total_low == total_high:
        hidden_mass = total - sum(f.low for f in cells.values() if f.status == EXACT)
        if 0 < hidden_mass < threshold:
            return False
    # Sums over all cells once; each cell's "others" are these minus its own bounds (linear, not quadratic).
    all_low = sum(b[0] for b in bounds.values())
    unbounded = sum(1 for b in bounds.values() if b[1] is None)
    all_high = sum(b[1] for b in bounds.values() if b[1] is not None)
    for name, figure in cells.items():
        if figure.status == EXACT:
            continue
        low, high = bounds[name]
        others_low = all_low - low
        others_unbounded = unbounded - (1 if high is None else 0)
        new_low = low if others_unbounded else max(low, total_low - (all_high - (high or 0)))
        upper = total_high - others_low
        new_high = upper if high is None else min(high, upper)
        if new_high - new_low < 1:
            return False
    return True


def suppress(counts: Mapping[str, int], threshold: int) -> Column:
    """Publish one breakdown: primary suppression, then secondary suppression until safe, else withhold."""
    if any(n < 0 for n in counts.values()):
        raise ValueError("counts are never negative")
    total = sum(counts.values())
    cells = {name: primary(n, threshold) for name, n in counts.items()}
    while not is_safe(cells, total, threshold):
        candidates = sorted((n, name) for name, n in counts.items() if cells[name].status == EXACT and n > 0)
        if not candidates:
            return Column({name: Figure(HIDDEN, 0, None) for name in counts}, primary(total, threshold), True)
        _n, name = candidates[0]
        cells[name] = Figure(HIDDEN, threshold, None)
    return Column(cells, primary(total, threshold))


def add_columns(columns: Sequence[Column], threshold: int) -> Column:
    """A quarter's or year's column: the cell-by-cell sum of what its months publish."""
    names: list[str] = []
    for column in columns:
        names.extend(n for n in column.cells if n not in names)
    zero = exact(0)
    cells = {name: add((c.cells.get(name, zero) for c in columns), threshold) for name in names}
    return Column(cells, add((c.total for c in columns), threshold))

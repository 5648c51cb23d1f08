"""The release audit: a year of random daily counts, everything a manager can see, and an exact attacker.

The attacker knows every figure shown exactly on any page (each week, month, quarter and year, the trend tables,
the figures at a glance and the counts behind them) and how the counters are linked (every answered chat has one
language and one waiting-time bin; every ended chat one duration and one "ended by"), and solves all of it at
once by exact rational elimination (fractions.Fraction). For every figure that is not shown exactly ("<5", "*",
ranges) it must find that figure undetermined; and no count of one dimension in one stretch of days that the
releases tell apart (the June attack of issue 17: "June minus its inner weeks") may come out between 1 and T-1.

Hour-of-week figures are rounded (never exact), so they give the attacker no equation; the test checks that they
are indeed never printed as an exact count between 1 and T-1.
"""

from __future__ import annotations

import datetime
import itertools
import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest

from helpline.metrics.disclosure import PERIOD_KINDS, Column, Period, parse_period, period_containing, primary
from helpline.metrics.reports import KEY_COUNTS, Publisher, build_report

T = 5
YEAR = 2025
TODAY = datetime.date(YEAR + 1, 2, 1)  # the whole year, its quarters, months and weeks have ended
FIRST, END = datetime.date(YEAR, 1, 1), datetime.date(YEAR + 1, 1, 1)

# --- the data: random daily counts, linked where the chat code links them -----------------------------------

BINS = ("<1", "1-2", "2-5", "5-10", "10-20", "20-40", "40+")
RATES: dict[str, dict[str, float]] = {  # metric -> dimension -> events per day (small on purpose: rare events)
    "chat.offered": {"en": 1.3, "nl": 0.25},
    "chat.refused": {"closed": 0.2, "queue_full": 0.02, "pow_invalid": 0.01, "rate_limited": 0.01},
    "chat.abandoned_queued": dict(zip(BINS, (0.1, 0.05, 0.05, 0.02, 0.01, 0.0, 0.0), strict=True)),
    "chat.transfers": {"": 0.04},
    "chat.resumes": {"": 0.1},
    "chat.wrapup": {"contact.offending": 0.03, "contact.self": 0.6, "concern.online_images": 0.3,
                    "action.crisis_info": 0.08},
    "chat.rating": {"1": 0.02, "2": 0.04, "3": 0.1, "4": 0.3, "5": 0.45},
    "chat.helped": {"yes": 0.6, "no": 0.05, "unsure": 0.12},
    "chat.next_step": {"selfhelp": 0.2, "safety-plan": 0.1, "professional": 0.08, "someone-i-trust": 0.05,
                       "contact-again": 0.15, "not-sure": 0.03},
    "selfhelp.page_view": {"managing-urges": 4.0, "the-law": 2.0, "warning-signs": 0.6},
    "selfhelp.module_started": {"managing-urges": 0.8, "the-law": 0.2, "warning-signs": 0.05},
    "selfhelp.module_completed": {"managing-urges": 0.3, "the-law": 0.06, "warning-signs": 0.02},
    "selfhelp.selfcheck_completed": {"starting-out": 0.5, "worth-working-on": 0.3, "talk-soon": 0.1,
                                     "talk-now": 0.04},
    "selfhelp.return_check": {"better": 0.05, "same": 0.04, "worse": 0.02},
    "selfhelp.safety_plan_made": {"": 0.15},
    "selfhelp.right_now_view": {"": 0.5},
    "site.referral": {"poster": 0.1, "radio": 0.02},
}
ANSWERED_PER_DAY, ENDED_PER_DAY = 1.2, 1.2
LANGUAGE_SHARE = {"en": 0.85, "nl": 0.15}
WAIT_SHARE = dict(zip(BINS, (0.5, 0.2, 0.15, 0.08, 0.04, 0.02, 0.01), strict=True))
DURATION_SHARE = dict(zip(BINS, (0.05, 0.05, 0.1, 0.2, 0.3, 0.2, 0.1), strict=True))
ENDED_BY_SHARE = {"visitor": 0.6, "counsellor": 0.35, "timeout": 0.05}
# Counters that count the same events in two ways: an attacker may assume their totals agree on every day.
LINKED = (("chat.answered", "chat.wait_bin"), ("chat.duration_bin", "chat.ended_by"))
WITHIN_BINS = ("<1", "1-2")  # the default SERVICE_LEVEL_MINUTES = 2


def poisson(rng: random.Random, rate: float) -> int:
    limit, k, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def split(rng: random.Random, n: int, shares: dict[str, float]) -> dict[str, int]:
    result = dict.fromkeys(shares, 0)
    for _ in range(n):
        result[rng.choices(list(shares), weights=list(shares.values()))[0]] += 1
    return result


Data = dict[datetime.date, dict[tuple[str, str], int]]


def random_year(seed: int) -> Data:
    rng = random.Random(seed)
    data: Data = {}
    day = FIRST
    while day < END:
        cells: dict[tuple[str, str], int] = {}
        for metric, rates in RATES.items():
            for dimension, rate in rates.items():
                cells[(metric, dimension)] = poisson(rng, rate)
        answered = poisson(rng, ANSWERED_PER_DAY)
        for metric, shares in (("chat.answered", LANGUAGE_SHARE), ("chat.wait_bin", WAIT_SHARE)):
            cells.update({(metric, d): n for d, n in split(rng, answered, shares).items()})
        waits = {d: cells[("chat.wait_bin", d)] for d in BINS}
        cells[("chat.service_level", "within")] = sum(waits[b] for b in WITHIN_BINS)
        cells[("chat.service_level", "beyond")] = answered - cells[("chat.service_level", "within")]
        ended = poisson(rng, ENDED_PER_DAY)
        for metric, shares in (("chat.duration_bin", DURATION_SHARE), ("chat.ended_by", ENDED_BY_SHARE)):
            cells.update({(metric, d): n for d, n in split(rng, ended, shares).items()})
        data[day] = {key: n for key, n in cells.items() if n}
        day += datetime.timedelta(days=1)
    return data


class DailyData:
    """Publisher's counts from the generated days (no database): the same sums the real Counts makes."""

    def __init__(self, data: Data) -> None:
        self.data = data

    def daily(self, period: Period) -> dict[tuple[str, str], int]:
        totals: dict[tuple[str, str], int] = defaultdict(int)
        day = period.start
        while day < period.end:
            for key, n in self.data.get(day, {}).items():
                totals[key] += n
            day += datetime.timedelta(days=1)
        return dict(totals)

    def hourly(self, month: Period) -> dict[tuple[str, int], int]:
        return {}


# --- what a manager can see, as linear forms over (metric, dimension, days) -----------------------------------


@dataclass(frozen=True)
class Form:
    """The count of `metric` over `dimensions` (None: all) on the days [start, end)."""

    metric: str
    dimensions: frozenset[str] | None
    start: datetime.date
    end: datetime.date


@dataclass
class Released:
    exact: list[tuple[Form, int]] = field(default_factory=list)
    hidden: list[tuple[Form, str]] = field(default_factory=list)  # forms shown as "<5", "*", a range …
    where: dict[Form, str] = field(default_factory=dict)


SHOWN = re.compile(r"[<≥*\d–]+")  # a figure inside a detail such as "16–19 of 20 ratings"
TABLE_COLUMNS = {
    "languages": ("chat.offered", "chat.answered"), "rating": ("chat.rating",), "helped": ("chat.helped",),
    "next_step": ("chat.next_step",), "refused": ("chat.refused",), "wait": ("chat.wait_bin",),
    "abandoned": ("chat.abandoned_queued",), "duration": ("chat.duration_bin",), "ended_by": ("chat.ended_by",),
    "wrapup": ("chat.wrapup",), "modules": ("selfhelp.page_view", "selfhelp.module_started",
                                            "selfhelp.module_completed"),
    "selfcheck": ("selfhelp.selfcheck_completed",), "return_check": ("selfhelp.return_check",),
    "referral": ("site.referral",),
    "mailbox": ("mailbox.threads_started", "mailbox.received", "mailbox.threads_answered"),
    "mailbox_reply": ("mailbox.first_reply_days",),
}
DETAILS = {  # headline slug -> the forms its "X of Y …" detail shows, as (metric, dimensions)
    "answer_rate": [("chat.answered", None), ("chat.offered", None)],
    "satisfied": [("chat.rating", frozenset({"4", "5"})), ("chat.rating", None)],
    "helped": [("chat.helped", frozenset({"yes"})), ("chat.helped", None)],
    "selfhelp.page_view": [("selfhelp.module_completed", None), ("selfhelp.selfcheck_completed", None),
                           ("selfhelp.safety_plan_made", None)],
}


def record(released: Released, form: Form, shown: str, where: str) -> None:
    released.where.setdefault(form, where)
    if shown.isdigit():
        released.exact.append((form, int(shown)))
    elif shown != "–":
        released.hidden.append((form, shown))


def everything_a_manager_sees(publisher: Publisher) -> Iterator[Period]:
    """Every period of the year, of every kind, as the period picker and the 'previous' links offer them."""
    for kind in PERIOD_KINDS:
        period = period_containing(kind, END - datetime.timedelta(days=1))
        while period.end > FIRST:
            yield period
            period = period.previous()


def collect(publisher: Publisher) -> Released:
    released = Released()
    for period in everything_a_manager_sees(publisher):
        page: dict[str, Any] = build_report(period, publisher).as_dict()
        previous = period.previous()
        for k in page["key_figures"] + page["headline"]:
            if k["slug"] in KEY_COUNTS:
                record(released, Form(k["slug"], None, period.start, period.end), k["value"], period.key)
                record(released, Form(k["slug"], None, previous.start, previous.end), k["previous"], period.key)
            for (metric, dims), shown in zip(DETAILS.get(k["slug"], []), SHOWN.findall(k["detail"]), strict=False):
                record(released, Form(metric, dims, period.start, period.end), shown, period.key)
        for table in page["tables"]:
            slug = table["slug"]
            if slug == "hour_of_week":
                for row in table["rows"]:
                    for shown in row["values"]:
                        assert not (shown.isdigit() and 0 < int(shown) < T), shown
                        assert not shown.isdigit() or int(shown) % T == 0, "hour-of-week figures are rounded"
                continue
            if slug == "trend":
                for row in table["rows"]:
                    p = parse_period(period.kind, row["key"], TODAY)
                    for metric, shown in zip(("chat.offered", "chat.answered"), row["values"], strict=True):
                        record(released, Form(metric, None, p.start, p.end), shown, period.key + " trend")
                continue
            if slug == "service_level":
                groups = {"within": frozenset(WITHIN_BINS), "beyond": frozenset(BINS) - frozenset(WITHIN_BINS)}
                for row in table["rows"]:
                    record(released, Form("chat.wait_bin", groups[row["key"]], period.start, period.end),
                           row["values"][0], period.key + " service level")
                continue
            metrics = TABLE_COLUMNS[slug]  # a table this audit does not know fails here: teach it first
            for row in table["rows"]:
                for metric, shown in zip(metrics, row["values"], strict=True):
                    record(released, Form(metric, frozenset({row["key"]}), period.start, period.end), shown,
                           f"{period.key} {slug}")
            for metric, shown in zip(metrics, table["totals"] or [], strict=True):
                record(released, Form(metric, None, period.start, period.end), shown, f"{period.key} {slug} total")
    return released


# --- the attacker: exact elimination over (metric, dimension, stretch of days) ---------------------------------


def subtract(target: dict[Any, Fraction], row: dict[Any, Fraction], factor: Fraction) -> None:
    """target -= factor * row, dropping the entries that become 0."""
    for c, v in row.items():
        new = target.get(c, Fraction(0)) - factor * v
        if new:
            target[c] = new
        else:
            target.pop(c, None)


class Solver:
    """Row-reduced equations over Fractions; `value(vector)` is the one value a linear form must have, or None."""

    def __init__(self) -> None:
        self.rows: dict[Any, tuple[dict[Any, Fraction], Fraction]] = {}  # pivot -> (row, right-hand side)

    def _reduce(self, vector: dict[Any, Fraction], rhs: Fraction) -> tuple[dict[Any, Fraction], Fraction]:
        vector = dict(vector)
        for column in [c for c in vector if c in self.rows]:
            factor = vector.get(column)
            if not factor:
                continue
            row, row_rhs = self.rows[column]
            subtract(vector, row, factor)
            rhs -= factor * row_rhs
        return vector, rhs

    def add(self, vector: dict[Any, Fraction], rhs: Fraction) -> None:
        vector, rhs = self._reduce(vector, rhs)
        if not vector:
            assert rhs == 0, "the releases contradict each other"
            return
        pivot = min(vector, key=repr)
        scale = vector[pivot]
        vector = {c: v / scale for c, v in vector.items()}
        rhs /= scale
        for other, (row, row_rhs) in list(self.rows.items()):  # keep every row free of every pivot (reduced form)
            factor = row.get(pivot)
            if factor:
                merged = dict(row)
                subtract(merged, vector, factor)
                self.rows[other] = (merged, row_rhs - factor * rhs)
        self.rows[pivot] = (vector, rhs)

    def value(self, vector: dict[Any, Fraction]) -> Fraction | None:
        rest, rhs = self._reduce(vector, Fraction(0))
        return -rhs if not rest else None


def stretches(forms: Iterable[Form], first: datetime.date, end: datetime.date) -> list[tuple[datetime.date,
                                                                                          datetime.date]]:
    """The finest stretches of days the releases tell apart: between any two period boundaries of the year."""
    edges = {first, end}
    for form in forms:
        edges.update(d for d in (form.start, form.end) if first < d < end)
    ordered = sorted(edges)
    return list(itertools.pairwise(ordered))


class Attacker:
    def __init__(self, released: Released, dimensions: dict[str, set[str]], first: datetime.date = FIRST,
                 end: datetime.date = END) -> None:
        self.dimensions = dimensions
        self.stretches = stretches([f for f, _n in released.exact] + [f for f, _s in released.hidden], first, end)
        self.solver = Solver()
        for form, n in released.exact:
            self.solver.add(self.vector(form), Fraction(n))
        for left, right in LINKED:  # the same events counted twice agree on every stretch of days
            for start, end in self.stretches:
                both = self.vector(Form(left, None, start, end))
                for key, v in self.vector(Form(right, None, start, end)).items():
                    both[key] = both.get(key, Fraction(0)) - v
                self.solver.add(both, Fraction(0))

    def vector(self, form: Form) -> dict[Any, Fraction]:
        dims = self.dimensions.get(form.metric, set()) if form.dimensions is None else form.dimensions
        return {(form.metric, d, s): Fraction(1) for d in dims for s in self.stretches
                if form.start <= s[0] and s[1] <= form.end}

    def determined(self, form: Form) -> Fraction | None:
        vector = self.vector(form)
        return Fraction(0) if not vector else self.solver.value(vector)


def truth(data: Data, form: Form, dimensions: dict[str, set[str]]) -> int:
    dims = dimensions.get(form.metric, set()) if form.dimensions is None else form.dimensions
    return sum(n for day, cells in data.items() if form.start <= day < form.end
               for (metric, d), n in cells.items() if metric == form.metric and d in dims)


def dimensions_of(data: Data) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for cells in data.values():
        for metric, dimension in cells:
            found[metric].add(dimension)
    return found


def audit(data: Data, publisher: Publisher | None = None) -> list[str]:
    """Every disclosure the exact attacker finds, in words; [] when the releases are safe."""
    publisher = publisher or Publisher(DailyData(data), limit=T)  # type: ignore[arg-type]
    released = collect(publisher)
    dimensions = dimensions_of(data)
    for form, n in released.exact:  # the releases are the truth (a wrong figure would make this audit moot)
        assert truth(data, form, dimensions) == n, (form, n, released.where[form])
    attacker = Attacker(released, dimensions)
    found = []
    for form, shown in released.hidden:
        value = attacker.determined(form)
        if value is not None:
            found.append(f"{released.where[form]}: {form.metric} {sorted(form.dimensions or ['all'])} shown as "
                         f"{shown!r} is exactly {value}")
    # The hidden cells of one table together are always its total less its shown cells: never a small count.
    hidden_cells: dict[tuple[str, datetime.date, datetime.date], set[str]] = defaultdict(set)
    for form, _shown in released.hidden:
        if form.dimensions is not None and len(form.dimensions) == 1:
            hidden_cells[(form.metric, form.start, form.end)] |= form.dimensions
    for (metric, start, end), dims in hidden_cells.items():
        value = attacker.determined(Form(metric, frozenset(dims), start, end))
        if value is not None and 0 < value < T:
            found.append(f"{metric} {sorted(dims)} on {start}…{end} together are exactly {value}")
    for metric, dims in dimensions.items():
        for start, end in attacker.stretches:
            for dimension in [*sorted(dims), None]:
                form = Form(metric, None if dimension is None else frozenset({dimension}), start, end)
                value = attacker.determined(form)
                if value is not None and 0 < value < T:
                    found.append(f"{metric}[{dimension or 'all'}] on {start}…{end - datetime.timedelta(days=1)} "
                                 f"is exactly {value}")
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_contract_no_hidden_or_small_count_can_be_solved_from_everything_released(seed: int) -> None:
    data = random_year(seed)
    released = collect(Publisher(DailyData(data), limit=T))  # type: ignore[arg-type]
    assert len(released.hidden) > 100, "the random year should make the publisher hide many figures"
    assert audit(data) == []


# --- the attacker is not toothless: it finds the June attack of issue 17 ------------------------------------------


class WeeksWithoutSecondarySuppression(Publisher):
    """A publisher with one rule left out: a month's weeks get primary suppression only."""

    def weeks(self, month: Period, metric: str) -> Column:
        totals = {w.key: sum(n for (m, _d), n in self.counts.daily(w).items() if m == metric) for w in month.weeks()}
        return Column({k: primary(n, T) for k, n in totals.items()}, primary(sum(totals.values()), T))


def test_the_audit_finds_a_week_left_to_subtraction_from_its_month() -> None:
    data = random_year(1)
    found = audit(data, WeeksWithoutSecondarySuppression(DailyData(data), limit=T))  # type: ignore[arg-type]
    assert any("-w" in line and "shown as '<5' is exactly" in line for line in found), found[:5]


def test_the_attacker_finds_june_minus_its_inner_iso_weeks() -> None:
    """June shown as 21 and its four inner ISO weeks as 5 each: 29–30 June hold exactly one such wrap-up."""
    june = (datetime.date(2026, 6, 1), datetime.date(2026, 7, 1))  # 1 June 2026 is a Monday
    weeks = [(june[0] + datetime.timedelta(days=7 * i), june[0] + datetime.timedelta(days=7 * (i + 1)))
             for i in range(4)]
    code = "contact.offending"
    released = Released(exact=[(Form("chat.wrapup", frozenset({code}), *june), 21)]
                        + [(Form("chat.wrapup", frozenset({code}), *w), 5) for w in weeks])
    attacker = Attacker(released, {"chat.wrapup": {code}}, datetime.date(2026, 1, 1), datetime.date(2027, 1, 1))
    last_days = Form("chat.wrapup", frozenset({code}), datetime.date(2026, 6, 29), june[1])
    assert attacker.determined(last_days) == 1


def test_the_attacker_finds_a_lone_hidden_cell_and_a_service_level_difference() -> None:
    month = (datetime.date(2025, 3, 1), datetime.date(2025, 4, 1))
    wait = dict(zip(BINS, (7, 2, 6, 0, 0, 0, 0), strict=True))
    released = Released(exact=[(Form("chat.wait_bin", frozenset({"<1"}), *month), 7),
                               (Form("chat.wait_bin", frozenset(WITHIN_BINS), *month), 9)])  # a counter table
    attacker = Attacker(released, {"chat.wait_bin": set(BINS)})
    assert attacker.determined(Form("chat.wait_bin", frozenset({"1-2"}), *month)) == wait["1-2"]

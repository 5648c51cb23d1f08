"""Disclosure control: closed periods only, small counts hidden, and nothing recoverable by subtraction."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline.metrics.disclosure import (
    EXACT,
    HIDDEN,
    RANGE,
    SMALL,
    Column,
    Figure,
    PeriodError,
    add,
    add_columns,
    attacker_bounds,
    change,
    closed_periods,
    exact,
    feasible_range,
    is_safe,
    latest_closed,
    parse_period,
    percentage,
    period_containing,
    primary,
    suppress,
    total_bounds,
)
from helpline.metrics.reports import Publisher, build_report


@pytest.fixture(autouse=True)
def _in_english() -> Iterator[None]:
    """Figures are formatted in the active language (45,5 % in Dutch): these tests read the English form, whatever
    language an earlier test in this thread left active."""
    with translation.override("en"):
        yield

TODAY = datetime.date(2026, 11, 28)  # a Saturday in Q4 2026
T = 5


# --- periods -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "key", "start", "end"), [
    ("week", "2026-10-w1", datetime.date(2026, 10, 1), datetime.date(2026, 10, 8)),
    ("week", "2026-10-w4", datetime.date(2026, 10, 22), datetime.date(2026, 11, 1)),  # 22–31: to the month's end
    ("week", "2024-02-w4", datetime.date(2024, 2, 22), datetime.date(2024, 3, 1)),
    ("month", "2026-10", datetime.date(2026, 10, 1), datetime.date(2026, 11, 1)),
    ("month", "2024-02", datetime.date(2024, 2, 1), datetime.date(2024, 3, 1)),
    ("quarter", "2026-Q3", datetime.date(2026, 7, 1), datetime.date(2026, 10, 1)),
    ("year", "2025", datetime.date(2025, 1, 1), datetime.date(2026, 1, 1)),
])
def test_parse_closed_periods(kind: str, key: str, start: datetime.date, end: datetime.date) -> None:
    period = parse_period(kind, key, TODAY)
    assert (period.start, period.end, period.key) == (start, end, key)


@pytest.mark.parametrize(("kind", "key", "message"), [
    ("week", "2026-11-w2", "not ended"),  # ended, but its month has not: weeks appear with their month
    ("week", "2026-W47", "written like"),  # ISO weeks overlap months, so they are not published
    ("month", "2026-11", "not ended"),  # the current month
    ("quarter", "2026-Q4", "not ended"),
    ("year", "2026", "not ended"),
    ("month", "2027-01", "not ended"),
    ("month", "2026-13", "no such"),
    ("week", "2026-13-w1", "no such"),
    ("month", "2026-1", "written like"),
    ("month", " 2026-10", "written like"),
    ("month", "2026-10\n", "written like"),
    ("quarter", "2026-Q5", "written like"),
    ("year", "１９９９", "written like"),
    ("day", "2026-10-01", "Choose a period"),
    ("month", "1999-12", "no figures before"),
])
def test_contract_only_whole_ended_periods_can_be_asked_for(kind: str, key: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(kind, key, TODAY)


def test_previous_latest_and_months() -> None:
    assert latest_closed("month", TODAY).key == "2026-10"
    assert latest_closed("quarter", TODAY).key == "2026-Q3"
    assert latest_closed("week", TODAY).key == "2026-10-w4"
    assert [w.key for w in parse_period("month", "2026-02", TODAY).weeks()] == [
        "2026-02-w1", "2026-02-w2", "2026-02-w3", "2026-02-w4"]
    assert parse_period("week", "2026-03-w1", TODAY).previous().key == "2026-02-w4"
    assert [(w.start.day, w.last_day.day) for w in parse_period("month", "2024-02", TODAY).weeks()] == [
        (1, 7), (8, 14), (15, 21), (22, 29)]
    assert latest_closed("year", TODAY).key == "2025"
    assert [p.key for p in closed_periods("quarter", TODAY, 3)] == ["2026-Q3", "2026-Q2", "2026-Q1"]
    assert period_containing("month", datetime.date(2026, 1, 15)).previous().key == "2025-12"
    assert [m.key for m in parse_period("quarter", "2026-Q1", TODAY).months()] == ["2026-01", "2026-02", "2026-03"]
    assert len(parse_period("year", "2025", TODAY).months()) == 12
    assert all(p.is_closed(TODAY) for p in closed_periods("week", TODAY, 30))


# --- figures and one table ---------------------------------------------------------------------------------


def test_primary_suppression_and_zero() -> None:
    assert [primary(n, T).display(T) for n in (0, 1, 4, 5, 6)] == ["0", "<5", "<5", "5", "6"]
    assert primary(7, 10).display(10) == "<10"


def test_single_small_cell_forces_a_second_hidden_cell() -> None:
    column = suppress({"a": 3, "b": 20, "c": 9, "d": 40}, T)
    assert [column.cells[k].display(T) for k in "abcd"] == ["<5", "20", "*", "40"]
    assert column.total.display(T) == "72"


def test_ties_hide_both_equal_cells() -> None:
    # Hiding one of two 5s would tell the reader the hidden one is 5 (it cannot exceed the shown 5).
    column = suppress({"a": 3, "b": 5, "c": 5, "d": 20}, T)
    assert [column.cells[k].status for k in "abcd"] == [SMALL, HIDDEN, HIDDEN, EXACT]


def test_two_small_cells_at_the_extremes_are_protected() -> None:
    # 1 + 1 = 2 (or 4 + 4 = 8) with a known total would pin both cells down.
    for counts in ({"a": 1, "b": 1, "c": 30}, {"a": 4, "b": 4, "c": 30}):
        column = suppress(counts, T)
        assert column.cells["c"].status == HIDDEN or column.withheld


def test_unprotectable_table_is_withheld() -> None:
    column = suppress({"a": 1, "b": 5}, T)  # 1 + at-least-5 = 6 would reveal a = 1 whatever we hide
    assert column.withheld
    assert {f.display(T) for f in column.cells.values()} == {"*"}


def test_all_small_table_with_small_total_is_fine() -> None:
    column = suppress({"a": 1, "b": 2, "c": 0}, T)
    assert [column.cells[k].display(T) for k in "abc"] == ["<5", "<5", "0"]
    assert column.total.display(T) == "<5"


def test_sums_changes_and_percentages() -> None:
    assert add([exact(5), exact(7)], T) == exact(12)
    assert add([exact(5), primary(2, T)], T) == Figure(RANGE, 6, 9)
    assert add([primary(1, T), primary(2, T), exact(0)], T).display(T) == "2–8"
    assert add([primary(1, T), exact(0)], T).display(T) == "<5"
    assert add([exact(9), Figure(HIDDEN, T, None)], T).display(T) == "≥14"
    assert change(exact(10), exact(7)) == 3
    assert change(exact(10), primary(3, T)) is None
    assert percentage(exact(9), exact(12)) == 75.0
    assert percentage(primary(2, T), exact(12)) is None
    assert percentage(exact(0), exact(0)) is None


# --- the attacker, independently: brute force over a small table --------------------------------------------


def brute_force_values(cells: Mapping[str, Figure], total: int, limit: int, name: str) -> set[int]:
    """Every value `name` can take in some table that publishes exactly `cells` with this total."""
    bounds = attacker_bounds(cells, limit)
    total_low, total_high = total_bounds(total, limit)
    names = list(cells)
    ranges = [range(lo, (hi if hi is not None else total_high) + 1) for lo, hi in (bounds[n] for n in names)]
    found: set[int] = set()

    def walk(i: int, acc: int, chosen: list[int]) -> None:
        if acc > total_high:
            return
        if i == len(names):
            if total_low <= acc <= total_high:
                found.add(chosen[names.index(name)])
            return
        for v in ranges[i]:
            walk(i + 1, acc + v, [*chosen, v])

    walk(0, 0, [])
    return found


small_tables = st.dictionaries(st.sampled_from("abcde"), st.integers(0, 14), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(small_tables)
def test_contract_feasible_range_matches_brute_force(counts: dict[str, int]) -> None:
    column = suppress(counts, T)
    if column.withheld:
        return
    bounds = attacker_bounds(column.cells, T)
    total_low, total_high = total_bounds(sum(counts.values()), T)
    for name, figure in column.cells.items():
        if figure.status == EXACT:
            continue
        low, high = feasible_range(name, bounds, total_low, total_high)
        values = brute_force_values(column.cells, sum(counts.values()), T, name)
        assert counts[name] in values
        assert min(values) == low and max(values) == (high if high is not None else max(values))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text("abcdefghij", min_size=1, max_size=2), st.integers(0, 60), min_size=1, max_size=9),
       st.sampled_from([3, 5, 10]))
def test_contract_no_small_count_shown_or_recoverable_in_a_table(counts: dict[str, int], limit: int) -> None:
    column = suppress(counts, limit)
    total = sum(counts.values())
    for name, figure in column.cells.items():
        shown = figure.display(limit)
        if shown.isdigit():
            assert int(shown) == counts[name] and (counts[name] == 0 or counts[name] >= limit)
        if 0 < counts[name] < limit:
            assert figure.status != EXACT
    assert column.total.display(limit) == primary(total, limit).display(limit)
    assert is_safe(column.cells, total, limit)
    # An independent brute-force attacker agrees, on tables small enough to search.
    if not column.withheld and len(counts) <= 4 and total <= 40:
        for name, figure in column.cells.items():
            if figure.status != EXACT:
                assert len(brute_force_values(column.cells, total, limit, name)) >= 2


# --- other periods: quarters and years from months -----------------------------------------------------------


class FakeCounts:
    """Counts for base periods without a database: {period key: {(metric, dimension): count}}."""

    def __init__(self, data: dict[str, dict[tuple[str, str], int]]) -> None:
        self.data = data

    def daily(self, period: object) -> dict[tuple[str, str], int]:
        return self.data.get(period.key, {})  # type: ignore[attr-defined]

    def hourly(self, month: object) -> dict[tuple[str, int], int]:
        return {}


BOUNDS_PATTERN = re.compile(r"^(?:(?P<exact>\d+)|<(?P<small>\d+)|(?P<hidden>\*)|(?P<lo>\d+)–(?P<hi>\d+)|≥(?P<ge>\d+)|–)$")


def read_bounds(shown: str, limit: int, withheld: bool = False) -> tuple[int, int | None]:
    """What a reader can take from one published string ("*" is at least the threshold unless withheld)."""
    match = BOUNDS_PATTERN.match(shown)
    assert match, shown
    if match["exact"]:
        return int(match["exact"]), int(match["exact"])
    if match["small"]:
        return 1, limit - 1
    if match["hidden"]:
        return (0 if withheld else limit), None
    if match["lo"]:
        return int(match["lo"]), int(match["hi"])
    if match["ge"]:
        return int(match["ge"]), None
    return 0, None


month_data = st.dictionaries(st.sampled_from(["<1", "1-2", "2-5", "5-10"]), st.integers(0, 12), max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(month_data, min_size=3, max_size=3))
def test_contract_quarter_reveals_nothing_its_months_do_not(months: list[dict[str, int]]) -> None:
    keys = ["2026-07", "2026-08", "2026-09"]
    data = {key: {("chat.wait_bin", b): n for b, n in m.items()} | {("chat.answered", "en"): sum(m.values())}
            for key, m in zip(keys, months, strict=True)}
    publisher = Publisher(FakeCounts(data), limit=T)  # type: ignore[arg-type]
    quarter = parse_period("quarter", "2026-Q3", TODAY)
    month_reports = [build_report(m, publisher).as_dict() for m in quarter.months()]
    quarter_report = build_report(quarter, publisher).as_dict()

    def table(report: dict, slug: str) -> dict:  # type: ignore[type-arg]
        return next(t for t in report["tables"] if t["slug"] == slug)

    for i, row in enumerate(table(quarter_report, "wait")["rows"]):
        month_bounds = [read_bounds(table(r, "wait")["rows"][i]["values"][0], T, table(r, "wait")["withheld"])
                        for r in month_reports]
        low, high = read_bounds(row["values"][0], T)
        # Exactly the sum of what the months show: no tighter, so no month cell can be recovered from it.
        assert low <= sum(b[0] for b in month_bounds)
        month_high = None if any(b[1] is None for b in month_bounds) else sum(b[1] or 0 for b in month_bounds)
        assert high is None or (month_high is not None and high >= month_high)
        if any(b[0] != b[1] for b in month_bounds):
            assert low != high, "a quarter cell is exact although a month hid part of it"
    for figures in (quarter_report["key_figures"], *[r["key_figures"] for r in month_reports]):
        for k in figures:
            if k["change"] != "–":
                assert re.fullmatch(r"\d+(\.\d+)?%?", k["value"]) and re.fullmatch(r"\d+(\.\d+)?%?", k["previous"])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["1", "2", "3", "4", "5"]), st.integers(0, 9), max_size=5),
                min_size=12, max_size=12))
def test_contract_no_export_shows_a_small_count_and_tables_are_safe(months: list[dict[str, int]]) -> None:
    year = parse_period("year", "2025", TODAY)
    data = {m.key: {("chat.rating", r): n for r, n in counts.items()}
            for m, counts in zip(year.months(), months, strict=True)}
    publisher = Publisher(FakeCounts(data), limit=T)  # type: ignore[arg-type]
    for period in [year, *year.months(), parse_period("quarter", "2025-Q2", TODAY)]:
        report = build_report(period, publisher)
        exported = report.as_dict()
        for t in exported["tables"]:
            for row in t["rows"]:
                for value in row["values"]:
                    if value.isdigit():
                        assert int(value) == 0 or int(value) >= T
        for k in exported["key_figures"]:
            if k["value"].isdigit():
                assert int(k["value"]) == 0 or int(k["value"]) >= T
        if period.kind == "month":
            rating = next(t for t in report.tables if t.slug == "rating")
            true_counts = {r: data[period.key].get(("chat.rating", r), 0) for r in rating.row_keys}
            assert is_safe(rating.columns[0].cells, sum(true_counts.values()), T)


def test_add_columns_carries_withheld_cells_as_unbounded() -> None:
    months = [suppress({"a": 1, "b": 5}, T), suppress({"a": 10, "b": 10}, T)]
    quarter = add_columns(months, T)
    assert quarter.cells["a"].display(T) == "≥10"
    assert quarter.total.display(T) == "26"
    assert isinstance(quarter, Column)

"""What the statistics pages, the exports and the printable report show for one closed period, after suppression.

Everything a programme manager can see is built here, once, so the page, CSV, JSON and print view agree.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils.formats import number_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpline.metrics import charts
from helpline.metrics.actions import BLOCK_DAYS
from helpline.metrics.catalogue import HOURS_OF_WEEK, METRICS, MINUTE_BINS
from helpline.metrics.disclosure import (
    BASE_KINDS,
    EXACT,
    RANGE,
    Column,
    Figure,
    Period,
    add,
    add_columns,
    attacker_bounds,
    change,
    primary,
    rounded,
    suppress,
)
from helpline.metrics.models import DailyCount, HourOfWeekCount

TREND_LENGTH = {"week": 12, "month": 12, "quarter": 8, "year": 5}
DEMAND, CAPACITY = "chat.demand_how", "chat.capacity_how"


def threshold() -> int:
    return int(getattr(settings, "SUPPRESSION_THRESHOLD", 5))


def service_level_minutes() -> int:
    return int(getattr(settings, "SERVICE_LEVEL_MINUTES", 2))


def period_label(period: Period) -> str:
    """A short human label for a period, e.g. 'Week 7, 2026', 'February 2026', 'Q1 2026', '2026'."""
    from django.utils.formats import date_format

    if period.kind == "week":
        return _("%(first)d–%(last)d %(month)s") % {"first": period.start.day, "last": period.last_day.day,
                                                    "month": date_format(period.start, "F Y")}
    if period.kind == "month":
        return date_format(period.start, "F Y")
    if period.kind == "quarter":
        return _("Q%(quarter)d %(year)d") % {"quarter": (period.start.month - 1) // 3 + 1, "year": period.start.year}
    return str(period.start.year)


def dimension_labels(metric: str, dimensions: Sequence[str]) -> list[str]:
    """Readable, translated labels for a metric's dimensions (codes and slugs are shown as they are)."""
    labels = {
        "chat.refused": {"closed": _("Service closed"), "queue_full": _("Queue full"),
                         "pow_invalid": _("Failed the automatic check"), "rate_limited": _("Too many requests")},
        "chat.ended_by": {"visitor": _("Visitor"), "counsellor": _("Counsellor"), "timeout": _("Timed out")},
        "chat.service_level": {"within": _("Within %(n)d minutes") % {"n": service_level_minutes()},
                               "beyond": _("After %(n)d minutes") % {"n": service_level_minutes()}},
        "chat.helped": {"yes": _("Yes"), "no": _("No"), "unsure": _("Not sure")},
        "chat.next_step": next_step_labels(),
        "selfhelp.return_check": {"better": _("Better than last time"), "same": _("About the same"),
                                  "worse": _("Worse than last time")},
        "selfhelp.selfcheck_completed": {"starting-out": _("Starting out"), "worth-working-on": _("Worth working on"),
                                         "talk-soon": _("Talk to someone soon"), "talk-now": _("Talk to someone now")},
    }
    if metric in {"chat.wait_bin", "chat.duration_bin", "chat.abandoned_queued"}:
        return [_("%(bin)s min") % {"bin": d} for d in dimensions]
    if metric in {"chat.offered", "chat.answered"}:
        languages = dict(settings.LANGUAGES)
        return [str(languages.get(d, d)) for d in dimensions]
    return [str(labels.get(metric, {}).get(d, d)) for d in dimensions]


def next_step_labels() -> dict[str, str]:
    """What a visitor may tick after a chat; the chat page and the statistics use the same wording."""
    return {"selfhelp": _("Read more of the self-help on this site"),
            "safety-plan": _("Make or use my safety plan"),
            "professional": _("Talk to a doctor, therapist or other professional"),
            "someone-i-trust": _("Talk to someone I trust"),
            "contact-again": _("Contact this service again"),
            "not-sure": _("I am not sure yet")}


def hour_label(hour: int, days: Sequence[str]) -> str:
    return f"{days[hour // 24]} {hour % 24:02d}:00"


def day_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def known_dimensions(metric: str) -> list[str]:
    """Rows a table always shows (with 0 where nothing was counted), before any dimension seen in the data."""
    return list(METRICS[metric].known_values())


class Counts:
    """Reads counters for any period from its days (and hour-of-week blocks for months), once per request."""

    def __init__(self) -> None:
        self._daily: dict[Period, dict[tuple[str, str], int]] = {}
        self._hourly: dict[Period, dict[tuple[str, int], int]] = {}

    def daily(self, period: Period) -> dict[tuple[str, str], int]:
        if period not in self._daily:
            rows = (DailyCount.objects.filter(day__gte=period.start, day__lt=period.end)
                    .values("metric", "dimension").annotate(total=Sum("count")))
            self._daily[period] = {(r["metric"], r["dimension"]): int(r["total"]) for r in rows}
        return self._daily[period]

    def hourly(self, month: Period) -> dict[tuple[str, int], int]:
        """Hour-of-week sums over the 4-week blocks that end within `month`."""
        if month not in self._hourly:
            first = month.start - datetime.timedelta(days=BLOCK_DAYS - 1)
            last = month.end - datetime.timedelta(days=BLOCK_DAYS - 1)
            rows = (HourOfWeekCount.objects.filter(period_start__gte=first, period_start__lt=last)
                    .values("metric", "hour_of_week").annotate(total=Sum("count")))
            self._hourly[month] = {(r["metric"], r["hour_of_week"]): int(r["total"]) for r in rows}
        return self._hourly[month]


def service_level_bins() -> tuple[str, ...] | None:
    """The wait bins that make up "within N minutes", when N is a bin edge (1, 2, 5, 10, 20 or 40); else None.

    Then the service level is published as a grouping of the published wait bins, never as a second, separately
    suppressed breakdown whose difference from the bins would give a hidden bin away (docs/metrics.md).
    """
    edges = {60 * int(b.split("-")[-1].lstrip("<")): i for i, b in enumerate(MINUTE_BINS[:-1])}
    last = edges.get(60 * service_level_minutes())
    return None if last is None else MINUTE_BINS[: last + 1]


class Publisher:
    """Suppressed figures for any period: months from counts, weeks as parts of their month's total, quarters and
    years as sums of what their months show. Everything a manager can see comes through here."""

    def __init__(self, counts: Counts | None = None, limit: int | None = None) -> None:
        self.counts = counts or Counts()
        self.threshold = limit if limit is not None else threshold()
        self._columns: dict[tuple[Period, str], Column] = {}
        self._weeks: dict[tuple[Period, str], Column] = {}

    def column(self, period: Period, metric: str) -> Column:
        """One metric's breakdown by dimension; never for a week (that would be a cross-tabulation)."""
        if period.kind == "week":
            raise ValueError("weeks publish totals only")
        key = (period, metric)
        if key not in self._columns:
            if period.kind in BASE_KINDS:
                daily = self.counts.daily(period)
                dims = known_dimensions(metric)
                dims += sorted(d for (m, d) in daily if m == metric and d not in dims)
                self._columns[key] = suppress({d: daily.get((metric, d), 0) for d in dims}, self.threshold)
            else:
                self._columns[key] = add_columns([self.column(m, metric) for m in period.months()], self.threshold)
        return self._columns[key]

    def weeks(self, month: Period, metric: str) -> Column:
        """A month's total of `metric` broken down by its four weeks, suppressed like any other breakdown."""
        key = (month, metric)
        if key not in self._weeks:
            totals = {}
            for week in month.weeks():
                daily = self.counts.daily(week)
                totals[week.key] = sum(n for (m, _d), n in daily.items() if m == metric)
            self._weeks[key] = suppress(totals, self.threshold)
        return self._weeks[key]

    def total(self, period: Period, metric: str) -> Figure:
        if period.kind == "week":
            return self.weeks(period.month, metric).cells[period.key]
        return self.column(period, metric).total

    def group(self, period: Period, metric: str, dimensions: Sequence[str]) -> Figure:
        """The sum of some published cells (e.g. ratings 4 and 5), worked out from published figures only: the bounds
        any reader has for each cell (disclosure.attacker_bounds) and, where the total is exact, the total less the
        other cells. Nothing finer than the published cells is revealed; it is only said plainly."""
        column = self.column(period, metric)
        bounds = attacker_bounds(column.cells, self.threshold)
        inside = [b for d, b in bounds.items() if d in dimensions]
        outside = [b for d, b in bounds.items() if d not in dimensions]
        low = sum(b[0] for b in inside)
        high = None if any(b[1] is None for b in inside) else sum(b[1] or 0 for b in inside)
        if column.total.value is not None:
            if all(b[1] is not None for b in outside):
                low = max(low, column.total.value - sum(b[1] or 0 for b in outside))
            cap = column.total.value - sum(b[0] for b in outside)
            high = cap if high is None else min(high, cap)
        if high is not None and low == high:
            return primary(low, self.threshold)  # never small: suppress() keeps hidden sums at 0 or ≥ threshold
        if high is not None and low >= 1 and high < self.threshold:
            return primary(1, self.threshold)
        return Figure(RANGE, low, high)

    def service_level(self, period: Period) -> Column:
        """Answered chats within and beyond the target wait (see service_level_bins)."""
        bins = service_level_bins()
        if bins is None:
            return self.column(period, "chat.service_level")
        wait = self.column(period, "chat.wait_bin")
        others = [b for b in wait.cells if b not in bins]
        return Column({"within": self.group(period, "chat.wait_bin", bins),
                       "beyond": self.group(period, "chat.wait_bin", others)}, wait.total, wait.withheld)

    def hour_of_week(self, period: Period, metric: str) -> Column | None:
        """Rounded to the nearest multiple of the threshold; None for weeks (no 4-week block is a week's)."""
        if period.kind == "week":
            return None
        if period.kind == "month":
            hourly = self.counts.hourly(period)
            cells = {str(h): rounded(hourly.get((metric, h), 0), self.threshold) for h in range(HOURS_OF_WEEK)}
        else:
            months = [self.hour_of_week(month, metric) for month in period.months()]
            cells = {str(h): add((m.cells[str(h)] for m in months if m is not None), self.threshold)
                     for h in range(HOURS_OF_WEEK)}
        return Column(cells, add(cells.values(), self.threshold))

    def anything_counted(self, period: Period) -> bool:
        months = [period.month] if period.kind == "week" else period.months()
        return any(self.counts.daily(m) for m in months) or any(
            self.counts.hourly(m) for m in months)


@dataclass
class KeyFigure:
    slug: str
    label: str
    current: str
    previous: str
    change: str
    value: int | float | None
    previous_value: int | float | None
    change_value: int | float | None
    sentence: str = ""
    detail: str = ""  # the counts behind a share, e.g. "19 of 20 ratings"
    current_figure: Figure | None = None
    unit: str = "count"  # or "percent"


@dataclass
class Table:
    slug: str
    title: str
    description: str
    row_heading: str
    row_keys: list[str]
    row_labels: list[str]
    column_labels: list[str]
    columns: list[Column]
    show_total: bool = True
    chart: SafeString | None = None
    note: str = ""
    threshold: int = 5
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    totals: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for key, label in zip(self.row_keys, self.row_labels, strict=True):
            self.rows.append((label, [c.cells[key].display(self.threshold) for c in self.columns]))
        self.totals = [c.total.display(self.threshold) for c in self.columns]

    @property
    def withheld(self) -> bool:
        return any(c.withheld for c in self.columns)

    @property
    def hidden_any(self) -> bool:
        return any(f.status != EXACT for c in self.columns for f in c.cells.values())

    def figure_rows(self) -> list[tuple[str, str, list[Figure]]]:
        """(key, label, figures) per row, for exports that write numbers as numbers."""
        return [(key, label, [c.cells[key] for c in self.columns])
                for key, label in zip(self.row_keys, self.row_labels, strict=True)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "title": self.title, "row_heading": self.row_heading, "columns": self.column_labels,
            "rows": [{"key": key, "label": label, "values": values}
                     for key, (label, values) in zip(self.row_keys, self.rows, strict=True)],
            "totals": self.totals if self.show_total else None,
            "withheld": self.withheld,
        }


@dataclass
class Report:
    period: Period
    label: str
    threshold: int
    key_figures: list[KeyFigure]
    tables: list[Table]
    hour_of_week_note: str = ""
    headline: list[KeyFigure] = field(default_factory=list)
    previous_label: str = ""
    empty: bool = False
    weeks_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {"kind": self.period.kind, "key": self.period.key, "label": self.label,
                       "first_day": self.period.start.isoformat(), "last_day": self.period.last_day.isoformat()},
            "threshold": self.threshold,
            "headline": [_key_figure_dict(k) for k in self.headline],
            "key_figures": [_key_figure_dict(k) for k in self.key_figures],
            "tables": [t.as_dict() for t in self.tables],
        }


def _key_figure_dict(k: KeyFigure) -> dict[str, Any]:
    return {"slug": k.slug, "label": k.label, "value": k.current, "previous": k.previous, "change": k.change,
            "detail": k.detail, "sentence": k.sentence}


def _signed(number: float, suffix: str = "") -> str:
    return f"{number:+g}{suffix}" if number else f"0{suffix}"


def _count_figure(slug: str, label: str, current: Figure, previous: Figure, limit: int) -> KeyFigure:
    difference = change(current, previous)
    return KeyFigure(slug, label, current.display(limit), previous.display(limit),
                     "–" if difference is None else _signed(difference),
                     current.value, previous.value, difference, current_figure=current)


def share(part: Figure, whole: Figure) -> tuple[float, float] | None:
    """part/whole in percent as (lowest, highest) that the published figures allow; None if unbounded or whole
    is not exact. Exact figures give one value twice."""
    if whole.value is None or whole.value == 0 or part.high is None:
        return None
    return round(100 * part.low / whole.value, 1), round(100 * min(part.high, whole.value) / whole.value, 1)


def percent_text(bounds: tuple[float, float] | None) -> str:
    """"88.4%", or "85–95%" where only bounds are published; with the page language's decimal mark (88,4% in Dutch)."""
    if bounds is None:
        return "–"
    low, high = (number_format(f"{b:g}", use_l10n=True) for b in bounds)
    return f"{low}%" if low == high else f"{low}–{high}%"


def _share_figure(slug: str, label: str, now: tuple[float, float] | None, before: tuple[float, float] | None,
                  detail: str = "") -> KeyFigure:
    exact_now = now[0] if now is not None and now[0] == now[1] else None
    exact_before = before[0] if before is not None and before[0] == before[1] else None
    difference = None if exact_now is None or exact_before is None else round(exact_now - exact_before, 1)
    return KeyFigure(slug, label, percent_text(now), percent_text(before),
                     "–" if difference is None else _signed(difference, " pp"), exact_now, exact_before, difference,
                     detail=detail, unit="percent")


KEY_COUNTS = [
    "chat.offered", "chat.answered", "chat.abandoned_queued", "chat.refused", "chat.transfers", "chat.resumes",
    "selfhelp.page_view", "selfhelp.module_started", "selfhelp.module_completed", "selfhelp.selfcheck_completed",
    "selfhelp.safety_plan_made", "selfhelp.right_now_view", "site.referral",
]
SATISFIED_RATINGS = ("4", "5")


def count_labels() -> dict[str, str]:
    return {"chat.offered": _("Chats offered"), "chat.answered": _("Chats answered"),
            "chat.abandoned_queued": _("Left the queue unanswered"),
            "chat.refused": _("Chat requests turned away"), "chat.transfers": _("Transfers"),
            "chat.resumes": _("Chats resumed after a lost connection"),
            "selfhelp.page_view": _("Self-help pages read"), "selfhelp.module_started": _("Modules started"),
            "selfhelp.module_completed": _("Modules completed"),
            "selfhelp.selfcheck_completed": _("Self-checks completed"),
            "selfhelp.safety_plan_made": _("Safety plans made"),
            "selfhelp.right_now_view": _("'Right now' page views"),
            "site.referral": _("Arrivals with a campaign code")}


def key_figures(publisher: Publisher, period: Period) -> list[KeyFigure]:
    limit, previous = publisher.threshold, period.previous()
    labels = count_labels()
    figures = [_count_figure(m, labels[m], publisher.total(period, m), publisher.total(previous, m), limit)
               for m in KEY_COUNTS]

    def answer_rate(p: Period) -> tuple[float, float] | None:
        return share(publisher.total(p, "chat.answered"), publisher.total(p, "chat.offered"))

    def level(p: Period) -> tuple[float, float] | None:
        if p.kind == "week":
            return None
        column = publisher.service_level(p)
        return share(column.cells["within"], column.total)

    figures.insert(2, _share_figure("answer_rate", _("Share of offered chats answered"), answer_rate(period),
                                    answer_rate(previous)))
    figures.insert(3, _share_figure("service_level", _("Answered within %(n)d minutes") % {
        "n": service_level_minutes()}, level(period), level(previous)))
    return figures


# --- the figures at a glance: how many, how satisfied, what changed -------------------------------------------


def _comparison(current: Figure, previous: Figure, previous_label: str, limit: int) -> str:
    difference = change(current, previous)
    if difference is None:
        return _("Not comparable with %(period)s: one of the two is too small to show exactly.") % {
            "period": previous_label}
    if difference == 0:
        return _("The same as in %(period)s.") % {"period": previous_label}
    if difference > 0:
        return ngettext("%(n)d more than in %(period)s (%(before)s).", "%(n)d more than in %(period)s (%(before)s).",
                        difference) % {"n": difference, "period": previous_label,
                                       "before": previous.display(limit)}
    return ngettext("%(n)d fewer than in %(period)s (%(before)s).", "%(n)d fewer than in %(period)s (%(before)s).",
                    -difference) % {"n": -difference, "period": previous_label, "before": previous.display(limit)}


def _share_comparison(now: tuple[float, float] | None, before: tuple[float, float] | None,
                      previous_label: str) -> str:
    if before is None:
        return _("%(period)s: too few to compare.") % {"period": previous_label}
    return _("%(period)s: %(share)s.") % {"period": previous_label, "share": percent_text(before)}


def headline(publisher: Publisher, period: Period) -> list[KeyFigure]:
    """The first things a manager reads: chats offered and answered, the answer rate, satisfaction, self-help use,
    each with the previous period and one plain sentence."""
    limit, previous = publisher.threshold, period.previous()
    before = period_label(previous)
    figures: list[KeyFigure] = []
    offered, answered = publisher.total(period, "chat.offered"), publisher.total(period, "chat.answered")
    offered_before = publisher.total(previous, "chat.offered")
    answered_before = publisher.total(previous, "chat.answered")
    labels = count_labels()

    item = _count_figure("chat.offered", labels["chat.offered"], offered, offered_before, limit)
    item.sentence = _("Visitors who joined the chat queue. %(comparison)s") % {
        "comparison": _comparison(offered, offered_before, before, limit)}
    figures.append(item)
    item = _count_figure("chat.answered", labels["chat.answered"], answered, answered_before, limit)
    item.sentence = _("Chats a counsellor accepted. %(comparison)s") % {
        "comparison": _comparison(answered, answered_before, before, limit)}
    figures.append(item)
    rate, rate_before = share(answered, offered), share(answered_before, offered_before)
    item = _share_figure("answer_rate", _("Answer rate"), rate, rate_before,
                         detail=_("%(part)s of %(whole)s chats") % {"part": answered.display(limit),
                                                                    "whole": offered.display(limit)})
    item.sentence = _("Share of the chats offered that were answered. %(comparison)s") % {
        "comparison": _share_comparison(rate, rate_before, before)}
    figures.append(item)

    if period.kind != "week":
        ratings = publisher.column(period, "chat.rating").total
        satisfied = publisher.group(period, "chat.rating", SATISFIED_RATINGS)
        now = share(satisfied, ratings)
        then = share(publisher.group(previous, "chat.rating", SATISFIED_RATINGS),
                     publisher.column(previous, "chat.rating").total) if previous.kind != "week" else None
        item = _share_figure("satisfied", _("Rated the chat 4 or 5"), now, then,
                             detail=_("%(part)s of %(whole)s ratings") % {"part": satisfied.display(limit),
                                                                          "whole": ratings.display(limit)})
        item.sentence = _("Ratings of 4 or 5 on a scale from 1 (poor) to 5 (very good). %(comparison)s") % {
            "comparison": _share_comparison(now, then, before)}
        figures.append(item)
        helped = publisher.column(period, "chat.helped")
        helped_before = publisher.column(previous, "chat.helped")
        now, then = share(helped.cells["yes"], helped.total), share(helped_before.cells["yes"], helped_before.total)
        item = _share_figure("helped", _("Said the chat helped"), now, then,
                             detail=_("%(part)s of %(whole)s answers") % {"part": helped.cells["yes"].display(limit),
                                                                          "whole": helped.total.display(limit)})
        item.sentence = _("Visitors who answered “Did this help?” with yes (the others said no or not sure). "
                          "%(comparison)s") % {"comparison": _share_comparison(now, then, before)}
        figures.append(item)

    pages = publisher.total(period, "selfhelp.page_view")
    item = _count_figure("selfhelp.page_view", _("Self-help pages read"), pages,
                         publisher.total(previous, "selfhelp.page_view"), limit)
    item.detail = _("%(completed)s modules completed, %(checks)s self-checks, %(plans)s safety plans") % {
        "completed": publisher.total(period, "selfhelp.module_completed").display(limit),
        "checks": publisher.total(period, "selfhelp.selfcheck_completed").display(limit),
        "plans": publisher.total(period, "selfhelp.safety_plan_made").display(limit)}
    item.sentence = _("Module pages people opened. %(comparison)s") % {
        "comparison": _comparison(pages, publisher.total(previous, "selfhelp.page_view"), before, limit)}
    figures.append(item)
    return figures


# --- tables -----------------------------------------------------------------------------------------------


def _trend_table(publisher: Publisher, period: Period) -> Table:
    periods = [period]
    while len(periods) < TREND_LENGTH[period.kind]:
        periods.insert(0, periods[0].previous())
    limit = publisher.threshold
    columns = []
    series = []
    for metric, label in (("chat.offered", _("Offered")), ("chat.answered", _("Answered"))):
        figures = {p.key: publisher.total(p, metric) for p in periods}
        columns.append(Column(figures, add(figures.values(), limit)))
        series.append(charts.Series(label, list(figures.values())))
    labels = [period_label(p) for p in periods]
    title = _("Chats over time")
    desc = _("Chats offered and answered in each of the last %(n)d periods, ending with this one.") % {
        "n": len(periods)}
    chart = charts.column_chart("trend", title, desc, labels, series, limit)
    return Table("trend", title, desc, _("Period"), [p.key for p in periods], labels,
                 [s.label for s in series], columns, show_total=False, chart=chart, threshold=limit)


def _table_from_columns(publisher: Publisher, slug: str, title: str, desc: str, row_heading: str, metric: str,
                        columns: Sequence[Column], column_labels: Sequence[str]) -> Table:
    limit = publisher.threshold
    keys: list[str] = []
    for c in columns:
        keys.extend(k for k in c.cells if k not in keys)
    zero = primary(0, limit)
    columns = [Column({k: c.cells.get(k, zero) for k in keys}, c.total, c.withheld) for c in columns]
    labels = dimension_labels(metric, keys)
    series = [charts.Series(label, [c.cells[k] for k in keys])
              for label, c in zip(column_labels, columns, strict=True)]
    chart = charts.bar_chart(slug, title, desc, labels, series, limit) if keys else None
    note = _("Too few to show safely: this breakdown is withheld.") if any(c.withheld for c in columns) else ""
    return Table(slug, title, desc, row_heading, keys, labels, list(column_labels), list(columns),
                 chart=chart, note=note, threshold=limit)


def _table(publisher: Publisher, period: Period, slug: str, title: str, desc: str, row_heading: str,
           metrics: Sequence[tuple[str, str]]) -> Table:
    columns = [publisher.column(period, m) for m, _label in metrics]
    return _table_from_columns(publisher, slug, title, desc, row_heading, metrics[0][0], columns,
                               [label for _m, label in metrics])


def _hour_of_week_table(publisher: Publisher, period: Period) -> Table | None:
    demand = publisher.hour_of_week(period, DEMAND)
    capacity = publisher.hour_of_week(period, CAPACITY)
    if demand is None or capacity is None:
        return None
    limit = publisher.threshold
    keys = [str(h) for h in range(HOURS_OF_WEEK)]
    days = day_names()
    labels = [hour_label(h, days) for h in range(HOURS_OF_WEEK)]
    title = _("Demand and capacity by hour of the week")
    desc = _("Chats offered and counsellor-hours available in each hour of the week, summed over the 4-week "
             "blocks that ended in this period, rounded to the nearest %(n)d.") % {"n": limit}
    series = [charts.Series(_("Chats offered"), [demand.cells[k] for k in keys]),
              charts.Series(_("Counsellor-hours"), [capacity.cells[k] for k in keys])]
    chart = charts.hour_of_week_chart("how", title, desc, days, series, limit)
    return Table("hour_of_week", title, desc, _("Hour"), keys, labels, [s.label for s in series],
                 [demand, capacity], show_total=False, chart=chart, threshold=limit)


def _breakdown_tables(p: Publisher, period: Period) -> list[Table]:
    level = p.service_level(period)
    return [
        _table(p, period, "languages", _("Chats by language"), _("Chats offered and answered, by page language."),
               _("Language"), [("chat.offered", _("Offered")), ("chat.answered", _("Answered"))]),
        _table(p, period, "rating", _("Feedback ratings"), _("Visitors' ratings of their chat, 1 (poor) to 5 "
               "(very good)."), _("Rating"), [("chat.rating", _("Ratings"))]),
        _table(p, period, "helped", _("Did the chat help?"), _("Visitors' answers after a chat."), _("Answer"),
               [("chat.helped", _("Answers"))]),
        _table(p, period, "next_step", _("What will you do next?"), _("What visitors said they would do after "
               "the chat (they could tick more than one)."), _("Answer"), [("chat.next_step", _("Answers"))]),
        _table(p, period, "refused", _("Chat requests turned away"), _("Requests refused before joining the queue, "
               "by reason."), _("Reason"), [("chat.refused", _("Requests"))]),
        _table(p, period, "wait", _("Waiting time of answered chats"), _("From joining the queue until a "
               "counsellor accepted, in minutes."), _("Wait"), [("chat.wait_bin", _("Chats"))]),
        _table_from_columns(p, "service_level", _("Service level"), _("Answered chats, by whether a counsellor "
                            "accepted within the target time (the waiting-time rows added up)."), _("Answered"),
                            "chat.service_level", [level], [_("Chats")]),
        _table(p, period, "abandoned", _("Left the queue unanswered"), _("Chats that left the queue before a "
               "counsellor accepted, by how long they had waited."), _("Wait"),
               [("chat.abandoned_queued", _("Chats"))]),
        _table(p, period, "duration", _("Duration of answered chats"), _("From acceptance until the chat "
               "ended, in minutes."), _("Duration"), [("chat.duration_bin", _("Chats"))]),
        _table(p, period, "ended_by", _("Who ended the chat"), _("Answered chats, by who ended them."),
               _("Ended by"), [("chat.ended_by", _("Chats"))]),
        _table(p, period, "wrapup", _("Wrap-up categories"), _("Wrap-up codes counsellors chose at the end of "
               "chats."), _("Code"), [("chat.wrapup", _("Times chosen"))]),
        _table(p, period, "modules", _("Self-help use by module"), _("Pages read, modules started and modules "
               "completed, by module."), _("Module"),
               [("selfhelp.page_view", _("Pages read")), ("selfhelp.module_started", _("Started")),
                ("selfhelp.module_completed", _("Completed"))]),
        _table(p, period, "selfcheck", _("Self-check results"), _("Completed self-checks, by result band "
               "(answers are never counted)."), _("Result"), [("selfhelp.selfcheck_completed", _("Self-checks"))]),
        _table(p, period, "return_check", _("How are you doing now?"), _("Returning visitors who took the "
               "self-check again and chose to count how the new result compares with the one their own browser "
               "kept (the earlier result is never sent)."), _("Compared with last time"),
               [("selfhelp.return_check", _("Self-checks"))]),
        _table(p, period, "referral", _("Referral codes"), _("Arrivals with a campaign code."), _("Code"),
               [("site.referral", _("Arrivals"))]),
        # The mailbox (securemessages).
        _table(p, period, "mailbox", _("Secure messages by language"), _("Threads started, visitors' messages "
               "received and threads answered, by the thread's language."), _("Language"),
               [("mailbox.threads_started", _("Threads started")), ("mailbox.received", _("Messages received")),
                ("mailbox.threads_answered", _("Threads answered"))]),
        _table(p, period, "mailbox_reply", _("Days to the first answer"), _("Secure message threads, by days "
               "from the first message to the team's first answer."), _("Days"),
               [("mailbox.first_reply_days", _("Threads"))]),
    ]


def build_report(period: Period, publisher: Publisher | None = None) -> Report:
    """Everything the statistics page shows for `period`, already suppressed."""
    p = publisher or Publisher()
    tables = [_trend_table(p, period)]
    weeks_note = ""
    if period.kind == "week":
        weeks_note = _("A week shows totals only: its breakdowns would let anyone subtract weeks from their month. "
                       "Choose the month, quarter or year for the tables.")
    else:
        tables += _breakdown_tables(p, period)
    how = _hour_of_week_table(p, period)
    note = ""
    if how is None:
        note = _("Hour-of-week figures are kept per 4-week block; choose a month, quarter or year to see them.")
    else:
        tables.append(how)
    return Report(period, period_label(period), p.threshold, key_figures(p, period), tables, note,
                  headline=headline(p, period), previous_label=period_label(period.previous()),
                  empty=not p.anything_counted(period), weeks_note=weeks_note)

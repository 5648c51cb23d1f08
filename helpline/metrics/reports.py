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
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from helpline.metrics import charts
from helpline.metrics.actions import BLOCK_DAYS
from helpline.metrics.catalogue import (
    ENDED_BY,
    HELPED,
    HOURS_OF_WEEK,
    METRICS,
    MINUTE_BINS,
    RATINGS,
    REFUSAL_REASONS,
    SELFCHECK_BANDS,
    SERVICE_LEVEL,
)
from helpline.metrics.disclosure import (
    BASE_KINDS,
    Column,
    Figure,
    Period,
    add,
    add_columns,
    change,
    percentage,
    primary,
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
        year, week, _day = period.start.isocalendar()
        return _("Week %(week)d, %(year)d") % {"week": week, "year": year}
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
        "selfhelp.selfcheck_completed": {"starting-out": _("Starting out"), "worth-working-on": _("Worth working on"),
                                         "talk-soon": _("Talk to someone soon"), "talk-now": _("Talk to someone now")},
    }
    if metric in {"chat.wait_bin", "chat.duration_bin", "chat.abandoned_queued"}:
        return [_("%(bin)s min") % {"bin": d} for d in dimensions]
    if metric in {"chat.offered", "chat.answered"}:
        languages = dict(settings.LANGUAGES)
        return [str(languages.get(d, d)) for d in dimensions]
    return [str(labels.get(metric, {}).get(d, d)) for d in dimensions]


def hour_label(hour: int, days: Sequence[str]) -> str:
    return f"{days[hour // 24]} {hour % 24:02d}:00"


def day_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


FIXED_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "chat.refused": REFUSAL_REASONS, "chat.ended_by": ENDED_BY, "chat.service_level": SERVICE_LEVEL,
    "chat.wait_bin": MINUTE_BINS, "chat.duration_bin": MINUTE_BINS, "chat.abandoned_queued": MINUTE_BINS,
    "chat.rating": RATINGS, "chat.helped": HELPED, "selfhelp.selfcheck_completed": SELFCHECK_BANDS,
}


def known_dimensions(metric: str) -> list[str]:
    """Rows a table always shows (with 0 where nothing was counted), before any dimension seen in the data."""
    if metric in FIXED_DIMENSIONS:
        return list(FIXED_DIMENSIONS[metric])
    if metric in {"chat.offered", "chat.answered"}:
        return [code for code, _name in settings.LANGUAGES]
    if metric == "site.referral":
        return list(settings.CAMPAIGN_CODES)
    return list(METRICS[metric].dimensions)


class Counts:
    """Reads counters for base periods (weeks, months), once per period and request."""

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


class Publisher:
    """Suppressed columns for any period: base periods from counts, quarters and years from their months."""

    def __init__(self, counts: Counts | None = None, limit: int | None = None) -> None:
        self.counts = counts or Counts()
        self.threshold = limit if limit is not None else threshold()
        self._columns: dict[tuple[Period, str], Column] = {}

    def column(self, period: Period, metric: str) -> Column:
        key = (period, metric)
        if key not in self._columns:
            self._columns[key] = self._column(period, metric)
        return self._columns[key]

    def _column(self, period: Period, metric: str) -> Column:
        if period.kind in BASE_KINDS:
            daily = self.counts.daily(period)
            dims = known_dimensions(metric)
            dims += sorted(d for (m, d) in daily if m == metric and d not in dims)
            return suppress({d: daily.get((metric, d), 0) for d in dims}, self.threshold)
        return add_columns([self.column(month, metric) for month in period.months()], self.threshold)

    def total(self, period: Period, metric: str) -> Figure:
        return self.column(period, metric).total

    def hour_of_week(self, period: Period, metric: str) -> Column | None:
        """None for weeks: no 4-week block is reported per week."""
        if period.kind == "week":
            return None
        if period.kind == "month":
            hourly = self.counts.hourly(period)
            return suppress({str(h): hourly.get((metric, h), 0) for h in range(HOURS_OF_WEEK)}, self.threshold)
        months = [self.hour_of_week(month, metric) for month in period.months()]
        return add_columns([m for m in months if m is not None], self.threshold)


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
        return any(f.status != "exact" for c in self.columns for f in c.cells.values())

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {"kind": self.period.kind, "key": self.period.key, "label": self.label,
                       "first_day": self.period.start.isoformat(), "last_day": self.period.last_day.isoformat()},
            "threshold": self.threshold,
            "key_figures": [{"slug": k.slug, "label": k.label, "value": k.current, "previous": k.previous,
                             "change": k.change} for k in self.key_figures],
            "tables": [t.as_dict() for t in self.tables],
        }

    def csv_rows(self) -> list[list[str]]:
        """One line per figure; a text cell a spreadsheet would run as a formula is prefixed with "'"."""
        rows = [["section", "table", "row", "column", "value"]]
        for k in self.key_figures:
            rows.append(["key_figures", k.slug, k.label, "value", k.current])
            rows.append(["key_figures", k.slug, k.label, "previous", k.previous])
            rows.append(["key_figures", k.slug, k.label, "change", k.change])
        for t in self.tables:
            for label, values in t.rows:
                rows.extend(["table", t.slug, label, column, value]
                            for column, value in zip(t.column_labels, values, strict=True))
            if t.show_total:
                rows.extend(["table", t.slug, "total", column, value]
                            for column, value in zip(t.column_labels, t.totals, strict=True))
        return [[_inert(cell) for cell in row] for row in rows]


def _inert(cell: str) -> str:
    return "'" + cell if cell[:1] in {"=", "@", "\t", "\r"} else cell


def _signed(number: float, suffix: str = "") -> str:
    return f"{number:+g}{suffix}" if number else f"0{suffix}"


def _count_figure(slug: str, label: str, current: Figure, previous: Figure, limit: int) -> KeyFigure:
    difference = change(current, previous)
    return KeyFigure(slug, label, current.display(limit), previous.display(limit),
                     "–" if difference is None else _signed(difference),
                     current.value, previous.value, difference)


def _rate_figure(slug: str, label: str, current: float | None, previous: float | None) -> KeyFigure:
    difference = None if current is None or previous is None else round(current - previous, 1)
    return KeyFigure(slug, label, "–" if current is None else f"{current:g}%",
                     "–" if previous is None else f"{previous:g}%",
                     "–" if difference is None else _signed(difference, " pp"), current, previous, difference)


KEY_COUNTS = [
    "chat.offered", "chat.answered", "chat.abandoned_queued", "chat.refused", "chat.transfers", "chat.resumes",
    "selfhelp.page_view", "selfhelp.module_started", "selfhelp.module_completed", "selfhelp.selfcheck_completed",
    "selfhelp.safety_plan_made", "selfhelp.right_now_view", "site.referral",
]


def key_figures(publisher: Publisher, period: Period) -> list[KeyFigure]:
    limit, previous = publisher.threshold, period.previous()
    labels = {"chat.offered": _("Chats offered"), "chat.answered": _("Chats answered"),
              "chat.abandoned_queued": _("Left the queue unanswered"),
              "chat.refused": _("Chat requests turned away"), "chat.transfers": _("Transfers"),
              "chat.resumes": _("Chats resumed after a lost connection"),
              "selfhelp.page_view": _("Self-help pages read"), "selfhelp.module_started": _("Modules started"),
              "selfhelp.module_completed": _("Modules completed"),
              "selfhelp.selfcheck_completed": _("Self-checks completed"),
              "selfhelp.safety_plan_made": _("Safety plans made"),
              "selfhelp.right_now_view": _("'Right now' page views"),
              "site.referral": _("Arrivals with a campaign code")}
    figures = [_count_figure(m, labels[m], publisher.total(period, m), publisher.total(previous, m), limit)
               for m in KEY_COUNTS]

    def rates(p: Period) -> tuple[float | None, float | None]:
        answered = publisher.total(p, "chat.answered")
        level = publisher.column(p, "chat.service_level")
        return (percentage(answered, publisher.total(p, "chat.offered")),
                percentage(level.cells["within"], level.total))

    (answer_now, level_now), (answer_before, level_before) = rates(period), rates(previous)
    figures.insert(2, _rate_figure("answer_rate", _("Share of offered chats answered"), answer_now, answer_before))
    figures.insert(3, _rate_figure("service_level", _("Answered within %(n)d minutes") % {
        "n": service_level_minutes()}, level_now, level_before))
    return figures


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


def _table(publisher: Publisher, period: Period, slug: str, title: str, desc: str, row_heading: str,
           metrics: Sequence[tuple[str, str]]) -> Table:
    limit = publisher.threshold
    columns = [publisher.column(period, m) for m, _label in metrics]
    keys: list[str] = []
    for c in columns:
        keys.extend(k for k in c.cells if k not in keys)
    zero = primary(0, limit)
    columns = [Column({k: c.cells.get(k, zero) for k in keys}, c.total, c.withheld) for c in columns]
    labels = dimension_labels(metrics[0][0], keys)
    series = [charts.Series(label, [c.cells[k] for k in keys]) for (_m, label), c in zip(metrics, columns, strict=True)]
    chart = charts.bar_chart(slug, title, desc, labels, series, limit) if keys else None
    note = _("Too few to show safely: this breakdown is withheld.") if any(c.withheld for c in columns) else ""
    return Table(slug, title, desc, row_heading, keys, labels, [label for _m, label in metrics], columns,
                 chart=chart, note=note, threshold=limit)


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
             "blocks that ended in this period.")
    series = [charts.Series(_("Chats offered"), [demand.cells[k] for k in keys]),
              charts.Series(_("Counsellor-hours"), [capacity.cells[k] for k in keys])]
    chart = charts.hour_of_week_chart("how", title, desc, days, series, limit)
    return Table("hour_of_week", title, desc, _("Hour"), keys, labels, [s.label for s in series],
                 [demand, capacity], chart=chart, threshold=limit)


def build_report(period: Period, publisher: Publisher | None = None) -> Report:
    """Everything the statistics page shows for `period`, already suppressed."""
    publisher = publisher or Publisher()
    p = publisher
    tables = [_trend_table(p, period)]
    tables += [
        _table(p, period, "languages", _("Chats by language"), _("Chats offered and answered, by page language."),
               _("Language"), [("chat.offered", _("Offered")), ("chat.answered", _("Answered"))]),
        _table(p, period, "refused", _("Chat requests turned away"), _("Requests refused before joining the queue, "
               "by reason."), _("Reason"), [("chat.refused", _("Requests"))]),
        _table(p, period, "wait", _("Waiting time of answered chats"), _("From joining the queue until a "
               "counsellor accepted, in minutes."), _("Wait"), [("chat.wait_bin", _("Chats"))]),
        _table(p, period, "abandoned", _("Left the queue unanswered"), _("Chats that left the queue before a "
               "counsellor accepted, by how long they had waited."), _("Wait"),
               [("chat.abandoned_queued", _("Chats"))]),
        _table(p, period, "service_level", _("Service level"), _("Answered chats, by whether a counsellor "
               "accepted within the target time."), _("Answered"), [("chat.service_level", _("Chats"))]),
        _table(p, period, "duration", _("Duration of answered chats"), _("From acceptance until the chat "
               "ended, in minutes."), _("Duration"), [("chat.duration_bin", _("Chats"))]),
        _table(p, period, "ended_by", _("Who ended the chat"), _("Answered chats, by who ended them."),
               _("Ended by"), [("chat.ended_by", _("Chats"))]),
        _table(p, period, "wrapup", _("Wrap-up categories"), _("Wrap-up codes counsellors chose at the end of "
               "chats."), _("Code"), [("chat.wrapup", _("Times chosen"))]),
        _table(p, period, "rating", _("Feedback ratings"), _("Visitors' ratings of their chat, 1 (poor) to 5 "
               "(very good)."), _("Rating"), [("chat.rating", _("Ratings"))]),
        _table(p, period, "helped", _("Did the chat help?"), _("Visitors' answers after a chat."), _("Answer"),
               [("chat.helped", _("Answers"))]),
        _table(p, period, "modules", _("Self-help use by module"), _("Pages read, modules started and modules "
               "completed, by module."), _("Module"),
               [("selfhelp.page_view", _("Pages read")), ("selfhelp.module_started", _("Started")),
                ("selfhelp.module_completed", _("Completed"))]),
        _table(p, period, "selfcheck", _("Self-check results"), _("Completed self-checks, by result band "
               "(answers are never counted)."), _("Result"), [("selfhelp.selfcheck_completed", _("Self-checks"))]),
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
    how = _hour_of_week_table(p, period)
    note = ""
    if how is None:
        note = _("Hour-of-week figures are kept per 4-week block; choose a month, quarter or year to see them.")
    else:
        tables.append(how)
    return Report(period, period_label(period), p.threshold, key_figures(p, period), tables, note)


"""Statistics pages (dashboard, exports, printable report), and the counting endpoint for page scripts."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from helpline.accounts.access import VIEW_STATISTICS, require_staff
from helpline.metrics.actions import increment, today
from helpline.metrics.catalogue import BEACON_METRICS
from helpline.metrics.disclosure import (
    KEY_EXAMPLES,
    PERIOD_KINDS,
    Period,
    PeriodError,
    closed_periods,
    latest_closed,
    parse_period,
    period_containing,
)
from helpline.metrics.exports import wide_csv, workbook
from helpline.metrics.models import DailyCount
from helpline.metrics.reports import build_report, period_label
from helpline.views import body_within, json_methods

MAX_BEACON_BYTES = 512
PICKER_LENGTH = {"week": 26, "month": 24, "quarter": 12, "year": 6}
MAX_REPORT_PERIODS = 12


@csrf_exempt  # carries no session and changes nothing but an anonymous counter
@json_methods("POST")
def count_event(request: HttpRequest) -> HttpResponse:
    """Count one thing a visitor's page reports (e.g. a module completed): a metric and a dimension."""
    body = body_within(request, MAX_BEACON_BYTES)
    if body is None:
        return JsonResponse({"error": "too_large", "message": "The request is too large."}, status=413)
    if request.content_type != "application/json":
        return JsonResponse({"error": "bad_request", "message": "Send application/json."}, status=415)
    try:
        payload = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "bad_request", "message": "Send JSON with a metric."}, status=400)
    if not isinstance(payload, dict) or "metric" not in payload or set(payload) - {"metric", "dimension"}:
        return JsonResponse({"error": "bad_request", "message": "Send JSON with a metric and, "
                             "optionally, a dimension; nothing else."}, status=400)
    metric, dimension = payload["metric"], payload.get("dimension", "")
    if not isinstance(metric, str) or not isinstance(dimension, str):
        return JsonResponse({"error": "bad_request", "message": "metric and dimension are text."}, status=400)
    if metric not in BEACON_METRICS or not BEACON_METRICS[metric](dimension):
        return JsonResponse({"error": "unknown_metric", "message": "That is not something we count."}, status=400)
    increment(metric, dimension)
    return HttpResponse(status=204)


def _bad_request(request: HttpRequest, error: PeriodError) -> HttpResponse:
    """400 for a request we cannot read; 404 for a period that does not exist (issue 14: never a 500)."""
    status = 404 if error.code == "missing" else 400
    return render(request, "metrics/bad_request.html", {"message": str(error)}, status=status)


def requested_period(request: HttpRequest, extra: frozenset[str] = frozenset()) -> Period:
    """The closed period asked for in ?period=<kind>&key=<key>, or the last whole month; PeriodError otherwise."""
    unknown = sorted(set(request.GET) - {"period", "key"} - extra)
    if unknown:
        raise PeriodError(_("Unknown parameter: %(name)s.") % {"name": unknown[0][:40]})
    if any(len(request.GET.getlist(name)) > 1 for name in request.GET):
        raise PeriodError(_("Give each parameter once."))
    kind = request.GET.get("period", "month")
    if kind not in PERIOD_KINDS:
        raise PeriodError(_("Choose a period: week, month, quarter or year."))
    if "key" not in request.GET:
        return latest_closed(kind, today())
    try:
        return parse_period(kind, request.GET["key"], today())
    except PeriodError as error:
        raise PeriodError(_period_message(kind, error.code), error.code) from None


def _period_message(kind: str, code: str) -> str:
    """The visitor-language wording of a PeriodError from parse_period."""
    if code == "open":
        return _("That period has not ended yet; only whole, ended periods are shown.")
    if code == "format":
        return _("That is not a valid period: write it like %(example)s.") % {"example": KEY_EXAMPLES[kind]}
    return _("There are no figures for that period.")


def _picker(selected: Period) -> list[dict[str, object]]:
    labels = {"week": _("Week"), "month": _("Month"), "quarter": _("Quarter"), "year": _("Year")}
    return [{"kind": kind, "label": labels[kind],
             "choices": [(p.key, period_label(p), p == selected) for p in closed_periods(kind, today(),
                                                                                        PICKER_LENGTH[kind])]}
            for kind in PERIOD_KINDS]


def first_figures(kind: str) -> dict[str, object] | None:
    """When nothing closed has been counted yet: the period that will be shown first, and the day it appears."""
    earliest = DailyCount.objects.order_by("day").values_list("day", flat=True).first()
    if earliest is not None and period_containing(kind, earliest).is_closed(today()):
        return None
    if earliest is None:
        return {"label": "", "date": None}
    first = period_containing(kind, earliest)
    appears = first.month.end if kind == "week" else first.end
    return {"label": period_label(first), "date": appears}


@require_GET
@require_staff(VIEW_STATISTICS)
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        period = requested_period(request)
    except PeriodError as error:
        return _bad_request(request, error)
    report = build_report(period)
    previous = period.previous()
    newer = _next_closed(period)
    return render(request, "metrics/dashboard.html", {
        "report": report, "picker": _picker(period), "previous": previous,
        "previous_label": period_label(previous), "newer": newer,
        "newer_label": period_label(newer) if newer else "",
        "first_figures": first_figures(period.kind) if report.empty else None,
    })


def _next_closed(period: Period) -> Period | None:
    following = period_containing(period.kind, period.end)
    return following if following.is_closed(today()) else None


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@require_GET
@require_staff(VIEW_STATISTICS)
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Exactly what the dashboard shows for the period, after suppression, as CSV, .xlsx or JSON."""
    try:
        period = requested_period(request)
    except PeriodError as error:
        return _bad_request(request, error)
    report = build_report(period)
    body: str | bytes
    if fmt == "json":
        body = json.dumps(report.as_dict(), ensure_ascii=False, indent=1)
    elif fmt == "xlsx":
        body = workbook(report, settings.SERVICE_NAME)
    else:
        body = wide_csv(report, settings.SERVICE_NAME)
    response = HttpResponse(body, content_type=EXPORT_TYPES[fmt])
    language = request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else "en"
    filename = f"helpline-statistics-{period.kind}-{period.key}-{language}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@require_GET
@require_staff(VIEW_STATISTICS)
def printable(request: HttpRequest) -> HttpResponse:
    """A one-page summary for a board, then the full report as an appendix (?appendix=no: the summary alone).

    With ?periods=N the appendix holds the N periods ending with the chosen one, each on pages of its own.
    """
    try:
        period = requested_period(request, frozenset({"periods", "appendix"}))
        raw = request.GET.get("periods", "1")
        # isascii(): "²" and other non-ASCII digits pass isdigit() but not int().
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_REPORT_PERIODS:
            raise PeriodError(_("periods must be a whole number from 1 to %(n)d.") % {"n": MAX_REPORT_PERIODS})
        appendix = request.GET.get("appendix", "yes")
        if appendix not in {"yes", "no"}:
            raise PeriodError(_("appendix must be yes or no."))
    except PeriodError as error:
        return _bad_request(request, error)
    periods = [period]
    while len(periods) < int(raw):
        periods.append(periods[-1].previous())
    reports = [build_report(p) for p in periods]
    return render(request, "metrics/report.html", {
        "summary": reports[0], "reports": reports if appendix == "yes" else [], "printing": True,
        "summary_tables": [t for t in reports[0].tables if t.slug in SUMMARY_TABLES],
    })


# The tables a board sees on the summary page, beside the key figures; the rest are in the appendix.
SUMMARY_TABLES = ("trend", "rating", "helped", "next_step")

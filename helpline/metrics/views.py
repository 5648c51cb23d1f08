"""Statistics pages, and the counting endpoint for page scripts."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from helpline.accounts.access import VIEW_STATISTICS, require_staff
from helpline.metrics.actions import increment
from helpline.metrics.catalogue import BEACON_METRICS

MAX_BEACON_BYTES = 512


@csrf_exempt  # carries no session and changes nothing but an anonymous counter
@require_POST
def count_event(request: HttpRequest) -> HttpResponse:
    """Count one thing a visitor's page reports (e.g. a module completed): a metric and a dimension."""
    if len(request.body) > MAX_BEACON_BYTES:
        return JsonResponse({"error": "too_large", "message": "The request is too large."}, status=413)
    try:
        payload = json.loads(request.body)
        metric, dimension = payload["metric"], payload.get("dimension", "")
    except (ValueError, TypeError, KeyError):
        return JsonResponse({"error": "bad_request", "message": "Send JSON with a metric."}, status=400)
    if not isinstance(metric, str) or not isinstance(dimension, str):
        return JsonResponse({"error": "bad_request", "message": "metric and dimension are text."}, status=400)
    allowed = BEACON_METRICS.get(metric)
    if allowed is None or not allowed(dimension):
        return JsonResponse({"error": "unknown_metric", "message": "That is not something we count."}, status=400)
    increment(metric, dimension)
    return HttpResponse(status=204)


@require_staff(VIEW_STATISTICS)
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "metrics/dashboard.html", {})

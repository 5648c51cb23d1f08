"""Pages that belong to the whole site rather than one app."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpline.asgi_privacy import IDENTIFYING_HEADERS


def privacy(request: HttpRequest) -> HttpResponse:
    """What we keep and what we never keep, from the same constants the code enforces."""
    return render(
        request,
        "privacy.html",
        {
            "dropped_headers": sorted(name.decode() for name in IDENTIFYING_HEADERS),
            "suppression_threshold": settings.SUPPRESSION_THRESHOLD,
            "resume_grace_minutes": max(1, settings.RESUME_GRACE_SECONDS // 60),
        },
    )

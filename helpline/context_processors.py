"""Template context every page needs: the service name, quick exit target, language links."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url


def service(request: HttpRequest) -> dict[str, object]:
    return {
        "service_name": settings.SERVICE_NAME,
        "quick_exit_url": settings.QUICK_EXIT_URL,
        "language_links": [
            (code, name, translate_url(request.path, code)) for code, name in settings.LANGUAGES
        ],
    }

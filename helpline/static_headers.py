"""Headers every static file carries, whether whitenoise (the embedded default) or nginx (deploy/nginx) serves it.

No Django imports: settings hand `add_static_headers` to whitenoise, and a test holds the nginx template to
the same list.
"""

from __future__ import annotations

from typing import Any

STATIC_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'",
}


def add_static_headers(headers: Any, path: str, url: str) -> None:
    """WHITENOISE_ADD_HEADERS_FUNCTION: whitenoise answers before the middleware that sets page headers runs."""
    for name, value in STATIC_FILE_HEADERS.items():
        headers[name] = value

"""Client addresses and identifying headers are gone before the app sees a request; logs redact addresses."""

from __future__ import annotations

import logging

import pytest

from helpline.asgi_privacy import StripClientIdentity, scrub_scope
from helpline.logging_privacy import RedactClientAddresses, redact


def test_contract_scope_loses_client_and_identifying_headers() -> None:
    scope = {
        "type": "http",
        "client": ("198.51.100.7", 51515),
        "headers": [(b"host", b"example.org"), (b"user-agent", b"CanaryAgent/1.0"), (b"referer", b"https://x.test/"),
                    (b"x-forwarded-for", b"203.0.113.9"), (b"X-Real-IP", b"203.0.113.9"), (b"accept", b"text/html")],
    }
    cleaned = scrub_scope(scope)
    assert cleaned["client"] is None
    assert cleaned["headers"] == [(b"host", b"example.org"), (b"accept", b"text/html")]
    assert scope["client"] == ("198.51.100.7", 51515), "the original scope is left alone"


async def test_contract_wrapped_app_never_sees_the_client() -> None:
    seen: list[dict[str, object]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope)

    wrapped = StripClientIdentity(app)
    await wrapped({"type": "websocket", "client": ("192.0.2.1", 1), "headers": [(b"user-agent", b"x")]}, None, None)
    await wrapped({"type": "lifespan"}, None, None)
    assert seen[0]["client"] is None
    assert seen[0]["headers"] == []
    assert seen[1] == {"type": "lifespan"}


@pytest.mark.parametrize(
    "line",
    [
        "Application instance <Task> for connection <WebSocketProtocol client=['127.0.0.1', 48176] path=b'/ws/'> took too long",
        "HTTP GET request for ['10.1.2.3', 5555]",
        "peer IPv4Address(type='TCP', host='192.0.2.44', port=80) went away",
        "from 2001:db8::1 and [::1]:8000",
        "{'client': ['198.51.100.7', 443], 'path': '/'}",
        "connection from 203.0.113.250:61000",
    ],
)
def test_redact_removes_addresses(line: str) -> None:
    out = redact(line)
    for fragment in ["127.0.0.1", "48176", "10.1.2.3", "192.0.2.44", "2001:db8::1", "::1", "198.51.100.7", "203.0.113.250"]:
        assert fragment not in out, out


def test_redact_leaves_clock_times_and_versions_alone() -> None:
    assert redact("at 10:17:23 Django 6.1.3") == "at 10:17:23 Django 6.1.3"


def test_filter_redacts_args_and_tracebacks() -> None:
    try:
        raise RuntimeError("peer 192.0.2.99 reset")
    except RuntimeError:
        import sys

        record = logging.LogRecord("daphne.server", logging.ERROR, __file__, 1, "Exception for %s", ("192.0.2.99",),
                                   sys.exc_info())
    assert RedactClientAddresses().filter(record)
    formatted = logging.Formatter().format(record)
    assert "192.0.2.99" not in formatted
    assert "RuntimeError" in formatted

"""Every HTTP endpoint, found by walking the URL resolver, gets malformed and oversized input.

Requirement: never a 5xx; a refusal is a 4xx and writes nothing (no row in any table, no counter moved);
the unprefixed JSON endpoints (/chat/…, /count/) refuse with a JSON body that carries a message.
The URL list is built from `get_resolver()`, so an endpoint added later is swept without editing this file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils import translation
from django.utils.regex_helper import normalize

from helpline.accounts.roles import ADMIN, COUNSELLOR, PROGRAMME_MANAGER, SUPERVISOR
from helpline.languages import LANGUAGE_CODES
from tests.conftest import staff_client, staff_client_with_role

LANGUAGES = LANGUAGE_CODES
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
# Django's default (2.5 MiB) unless the project sets its own; one byte more must be refused.
UPLOAD_LIMIT = int(getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or 2_621_440)
FIELD_LIMIT = int(getattr(settings, "DATA_UPLOAD_MAX_NUMBER_FIELDS", None) or 1000)
JSON_ENDPOINT = re.compile(r"^/(?:chat|count)/")


def _candidate_values() -> list[str]:
    # The first value that makes the path resolve back to its own pattern is used; app labels are there
    # for the admin's `(?P<app_label>auth|chat|…)` alternation.
    return ["1", "no-such-thing", *(config.label for config in apps.get_app_configs())]


def _walk(resolver: URLResolver, prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        regex = entry.pattern.regex.pattern.lstrip("^")
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + regex)
        else:
            yield prefix + regex.rstrip("$").replace(r"\Z", ""), entry


def _instantiate(regex: str, pattern: URLPattern) -> str | None:
    """A concrete path that resolves to `pattern`, or None when no candidate value fits."""
    for template, params in normalize(regex):
        for value in _candidate_values():
            path = "/" + template % dict.fromkeys(params, value)
            try:
                match = resolve(path)
            except Resolver404:
                continue
            if match.func is pattern.callback:
                return path
    return None


@dataclass(frozen=True)
class Endpoint:
    path: str
    has_parameters: bool


def every_endpoint() -> list[Endpoint]:
    """One concrete path per URL pattern and language (patterns outside i18n_patterns appear once)."""
    found: dict[str, Endpoint] = {}
    unreachable: list[str] = []
    for language in LANGUAGES:
        with translation.override(language):
            for regex, pattern in _walk(get_resolver(), ""):
                path = _instantiate(regex, pattern)
                if path is None:
                    unreachable.append(regex)
                else:
                    found[path] = Endpoint(path, bool(pattern.pattern.regex.groupindex))
    # A pattern this sweep cannot turn into a path would silently go untested: say so instead.
    assert not unreachable, f"no concrete path for {unreachable}"
    return sorted(found.values(), key=lambda endpoint: endpoint.path)


ENDPOINTS = every_endpoint()

OVERSIZED = b"x" * (UPLOAD_LIMIT + 1)
DEEP = 100_000
BODIES: list[tuple[str, str, bytes]] = [
    ("empty", "application/json", b""),
    ("invalid JSON", "application/json", b'{"metric": '),
    ("JSON list", "application/json", b"[1, 2, 3]"),
    ("JSON string", "application/json", b'"text"'),
    ("JSON huge number", "application/json", b"1e999"),
    ("JSON NaN", "application/json", b'{"rating": NaN, "feedback": "x"}'),
    ("JSON duplicate keys", "application/json", b'{"metric": "a", "metric": "b"}'),
    ("JSON wrong types", "application/json",
     b'{"metric": 5, "dimension": [], "feedback": {}, "rating": "five", "helped": 3, "key": 7, "token": null}'),
    ("JSON lone surrogates", "application/json",
     b'{"feedback": "\\ud800", "rating": 5, "metric": "\\udfff", "key": "\\ud800", "token": "\\ud800"}'),
    ("JSON bool rating", "application/json", b'{"feedback": "x", "rating": true}'),
    ("JSON nested a little", "application/json", b'{"feedback": "x", "rating": ' + b"[" * 300 + b"]" * 300 + b"}"),
    ("JSON nested hugely", "application/json", b"[" * DEEP + b"]" * DEEP),
    ("non-UTF-8 JSON", "application/json", b'{"metric": "\xff\xfe", "feedback": "\xc3\x28"}'),
    ("UTF-16 JSON", "application/json", '{"metric": "x"}'.encode("utf-16")),
    ("JSON oversized", "application/json", b'{"feedback": "' + OVERSIZED + b'"}'),
    ("form non-UTF-8", "application/x-www-form-urlencoded", b"a=%ff%fe&b=\xff\xfe&%c3%28=1"),
    ("form too many fields", "application/x-www-form-urlencoded",
     "&".join(f"f{n}=1" for n in range(FIELD_LIMIT + 1)).encode()),
    ("form oversized", "application/x-www-form-urlencoded", b"a=" + OVERSIZED),
    ("bytes oversized", "application/octet-stream", OVERSIZED),
    ("multipart broken", "multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n"),
    ("multipart no boundary", "multipart/form-data", b"a=1"),
    ("text/plain", "text/plain", b"hello"),
    # Django refuses a form in any charset but UTF-8 by raising BadRequest from inside the CSRF check, whose
    # error page runs that check again: a 500 with a long traceback, unless we refuse first.
    ("form UTF-16", "application/x-www-form-urlencoded; charset=utf-16", "a=1&b=2".encode("utf-16")),
    ("form UTF-16 label, ASCII body", "application/x-www-form-urlencoded; charset=UTF-16", b"csrfmiddlewaretoken=x&a=1"),
    ("form Latin-1", "application/x-www-form-urlencoded; charset=iso-8859-1", b"a=caf\xe9"),
    ("multipart UTF-16", "multipart/form-data; boundary=xyz; charset=utf-16",
     b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--\r\n'),
]

# Values a form field should never expect: superscript and non-ASCII digits pass str.isdigit() but not
# always int(); a number with thousands of digits; a NUL byte; the empty string.
ABSURD_FIELD_VALUES = ["\u00b2", "\u0663", "9" * 5000, "-1", "1.5", "\x00", "", "x" * 100_000, "\ud800"]

QUERIES = [
    "?" + "a=" + "x" * 100_000,
    "?" + "&".join(["period=month"] * (FIELD_LIMIT + 1)),
    "?period=month&period=year",
    "?period=%ff%fe",
    "?period=month&key=%00",
    "?period=month&key=9999-99",
    "?period=month&key=0000-01",
    "?period=month&key=-1",
    "?period=year&key=99999999999999999999",
    "?period=year&key=0",
    "?period=week&key=2026-W00",
    "?period=week&key=2026-W54",
    "?period=week&key=9999-W52",
    "?period=quarter&key=2026-Q0",
    "?period=quarter&key=2026-Q9",
    "?periods=99999999999999999999",
    "?periods=-1",
    "?periods=%C2%B2",
    "?periods=%D9%A3",
    "?src=poster&src=other",
    "?src=" + "x" * 10_000,
    "?next=//evil.example/",
]


def database_state() -> dict[str, Any]:
    """Row counts of every table, and the sum of every counter: a refused request may change none of them.

    One query, because it runs before every request of the sweep.
    """
    from helpline.metrics.models import DailyCount, HourOfWeekCount

    tables = sorted({model._meta.db_table for model in apps.get_models()
                     if model._meta.managed and not model._meta.proxy})
    parts = [f"SELECT '{table}', COUNT(*) FROM \"{table}\"" for table in tables]
    parts += [f"SELECT '{model._meta.db_table} total', COALESCE(SUM(count), 0) FROM \"{model._meta.db_table}\""
              for model in (DailyCount, HourOfWeekCount)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return dict(cursor.fetchall())


@contextmanager
def captured_log_records() -> Iterator[list[logging.LogRecord]]:
    """Every record logged meanwhile, also by the loggers our settings keep from propagating (django, axes)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger) and not logger.propagate]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def form_field_names(client: Client, path: str) -> list[str]:
    """The input names the page's own form offers, so absurd values go where a real post would put them."""
    response = client.get(path)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    names = re.findall(r'name="([^"]+)"', response.content.decode(errors="replace"))
    return sorted({name for name in names if name != "csrfmiddlewaretoken"})


@dataclass
class Sweep:
    client: Client
    endpoint: Endpoint
    identity: str
    problems: list[str]
    admitted: bool = True

    def request(self, method: str, path: str, content_type: str, body: bytes, label: str) -> None:
        before = database_state()
        with captured_log_records() as records:
            try:
                response = self.client.generic(method, path, body, content_type=content_type)
            except Exception as error:  # an exception here is the 500 a real server would send
                self.problems.append(f"{self.identity} {method} {path[:120]} [{label}]: raised {error!r}")
                return
        status = response.status_code
        where = f"{self.identity} {method} {path[:120]} [{label}] → {status}"
        if any(record.exc_info for record in records) or len(records) > 1:
            self.problems.append(f"{where}: logged {len(records)} records, tracebacks included; one line at most")
        if status >= 500 or status < 200:
            self.problems.append(f"{where}: not a client-side answer")
            return
        if 400 <= status < 500:
            after = database_state()
            changed = {key for key in before if before[key] != after.get(key)}
            if changed:
                self.problems.append(f"{where}: refused but wrote {sorted(changed)}")
            if JSON_ENDPOINT.match(path) and not self.gate_refusal(response):
                self.check_json_error(response, where)

    def gate_refusal(self, response: Any) -> bool:
        # The shared staff gate (accounts.access) answers for the whole site, in HTML, when it refuses
        # someone; the endpoint itself never ran. Only refusals by the endpoint must be JSON.
        return not self.admitted

    def check_json_error(self, response: Any, where: str) -> None:
        if response.status_code == 405 and response.wsgi_request.method == "HEAD":
            return  # a HEAD answer has no body by definition
        try:
            body = json.loads(response.content)
        except ValueError:
            self.problems.append(f"{where}: JSON endpoint refused without a JSON body: {response.content[:80]!r}")
            return
        message = body.get("message") or body.get("error") if isinstance(body, dict) else None
        if not isinstance(message, str) or len(message) < 4:
            self.problems.append(f"{where}: JSON error without a clear message: {body!r}")

    def run(self, thorough: bool) -> None:
        path = self.endpoint.path
        for method in METHODS:
            for label, content_type, body in BODIES if thorough else BODIES[:1]:
                self.request(method, path, content_type, body, label)
        if not thorough:
            self.request("POST", path, "application/octet-stream", OVERSIZED, "bytes oversized")
            self.request("GET", path + QUERIES[1], "application/octet-stream", b"", "query flood")
            return
        for query in QUERIES:
            self.request("GET", path + query, "application/octet-stream", b"", "query")
        names = form_field_names(self.client, path)
        for value in ABSURD_FIELD_VALUES:
            form = "&".join(f"{name}={_quote(value)}" for name in names) or f"field={_quote(value)}"
            self.request("POST", path, "application/x-www-form-urlencoded", form.encode(), f"form {value[:5]!r}")
        if self.endpoint.has_parameters:
            for bad in ("x" * 3000, "%ff%fe", "..%2F..%2Fetc", "%00", "-1", "99999999999999999999999"):
                self.request("GET", _replace_last_parameter(path, bad), "application/octet-stream", b"", "bad param")


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _replace_last_parameter(path: str, bad: str) -> str:
    # The candidate value ("1" or a label) sits in the last non-fixed segment; replacing every segment that
    # equals a candidate is enough for the handful of patterns with parameters.
    segments = path.split("/")
    candidates = set(_candidate_values())
    replaced = [bad if segment in candidates else segment for segment in segments]
    return "/".join(replaced)


def needs_staff(path: str) -> bool:
    """Decided by asking: an anonymous GET that is sent to a sign-in page marks a staff-only endpoint."""
    response = Client().get(path)
    location = response.get("Location", "")
    return response.status_code in {301, 302} and ("sign-in" in location or "/admin/login/" in location)


def is_admin_site(endpoint: Endpoint) -> bool:
    return "/staff/admin/" in endpoint.path


ROLES = (COUNSELLOR, SUPERVISOR, PROGRAMME_MANAGER, ADMIN)


@pytest.fixture(scope="module", autouse=True)
def shipped_content(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The self-help content as shipped, so the self-check form has its real question fields to abuse.

    Loaded once for the module (it took longer than most sweeps), outside the tests' transactions, which
    roll back whatever a test wrote; removed again afterwards, so other modules see the database they expect.
    """
    from selfhelp.loader import load_all

    with django_db_blocker.unblock():
        load_all()
    yield
    from django.core.management.color import no_style

    tables = [model._meta.db_table for model in apps.get_app_config("selfhelp").get_models()]
    with django_db_blocker.unblock():
        # Rows and id sequences both: later modules count on ids starting at 1 again.
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables, reset_sequences=True))


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.path for endpoint in ENDPOINTS])
def test_endpoint_refuses_bad_input_cleanly(endpoint: Endpoint) -> None:
    problems: list[str] = []
    staff_only = needs_staff(endpoint.path)
    # The whole sweep once per view: /nl/ runs the same view code as /en/ (only the catalogue differs), and
    # after the first role the gate admits, others reach the same parsing. The rest get the short sweep,
    # which still proves no 5xx and no write. Keeps the file to a few minutes in CI.
    thorough = not is_admin_site(endpoint) and not endpoint.path.startswith("/nl/")
    Sweep(Client(), endpoint, "anonymous", problems, admitted=not staff_only).run(thorough=thorough)
    if staff_only:
        for role in ROLES:
            client, user = staff_client_with_role(role)
            if role == ADMIN:
                # The same person before the second factor: the gate must refuse them without a 5xx.
                Sweep(staff_client(user, verified=False), endpoint, "unverified", problems,
                      admitted=False).run(thorough=False)
            admitted = client.get(endpoint.path).status_code not in {302, 403}
            # Someone the gate refuses never reaches the endpoint's parsing: a short sweep proves the refusal.
            # The admin site is Django's own code, tested by Django: a short sweep shows our setup of it
            # (second-factor site, URL prefix, middleware) turns bad input into no 5xx.
            Sweep(client, endpoint, role, problems, admitted=admitted).run(thorough=admitted and thorough)
            thorough = thorough and not admitted
    assert not problems, "\n".join(problems[:40]) + f"\n… {len(problems)} problems in all"


def test_sweep_covers_every_url_pattern() -> None:
    """The sweep is only as good as its list: every pattern, in both languages, must be in it."""
    paths = {endpoint.path for endpoint in ENDPOINTS}
    for language in LANGUAGES:
        assert f"/{language}/" in paths
        assert f"/{language}/help/self-check/" in paths
        assert f"/{language}/staff/stats/export.csv" in paths
    assert {"/chat/pow/", "/chat/feedback/", "/chat/device/", "/count/"} <= paths
    assert any(path.startswith("/chat/device/") and path != "/chat/device/" for path in paths)
    total_patterns = sum(1 for _ in _walk(get_resolver(), ""))
    assert len(ENDPOINTS) >= total_patterns, "each pattern gives at least one path (two inside i18n_patterns)"


FOREIGN_CHARSET_FORMS = [body for body in BODIES if "charset=" in body[1]]
MULTIPART_FORM = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--\r\n'
CSRF_CHECKED_FORMS = [*FOREIGN_CHARSET_FORMS, ("multipart", "multipart/form-data; boundary=xyz", MULTIPART_FORM),
                      ("form", "application/x-www-form-urlencoded", b"a=1")]


@pytest.mark.django_db
def test_forms_sent_by_a_script_with_the_csrf_check_on_get_a_4xx_and_one_log_line_at_most() -> None:
    """Every endpoint, with the CSRF check on as in production and a valid token, as a script would send it.

    The sweep's client skips the CSRF check, and that check is where Django reads the form first.
    """
    problems: list[str] = []
    _client, admin = staff_client_with_role(ADMIN)
    for identity, client in (("anonymous", Client(enforce_csrf_checks=True)),
                             ("admin", staff_client(admin))):
        client.handler.enforce_csrf_checks = True
        client.get("/en/staff/sign-in/")  # the CSRF cookie, as a browser would hold it
        token = client.cookies["csrftoken"].value
        for endpoint in ENDPOINTS:
            for label, content_type, body in CSRF_CHECKED_FORMS:
                before = database_state()
                with captured_log_records() as records:
                    try:
                        response = client.generic("POST", endpoint.path, body, content_type=content_type,
                                                  headers={"X-CSRFToken": token})
                    except Exception as error:
                        problems.append(f"{identity} {endpoint.path} [{label}]: raised {error!r}")
                        continue
                where = f"{identity} {endpoint.path} [{label}] → {response.status_code}"
                if response.status_code >= 500:
                    problems.append(f"{where}: not a client-side answer")
                if any(record.exc_info for record in records) or len(records) > 1:
                    problems.append(f"{where}: {len(records)} log records, a traceback among them")
                if response.status_code >= 400 and database_state() != before:
                    problems.append(f"{where}: refused but wrote")
    assert not problems, "\n".join(problems[:40]) + f"\n… {len(problems)} problems in all"

"""Statistics pages and exports (role gate, strict period parameters, exact suppressed figures) and the beacon."""

from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from helpline.accounts.roles import ADMIN, COUNSELLOR, PROGRAMME_MANAGER, SUPERVISOR
from helpline.metrics.actions import block_start, increment, increment_hour_of_week, today
from helpline.metrics.disclosure import latest_closed
from helpline.metrics.models import DailyCount
from selfhelp.loader import load_all
from tests.conftest import staff_client_with_role

PASSWORD = "a-long-test-password-1"
STATS_URLS = ["/en/staff/stats/", "/nl/staff/stats/?period=quarter", "/en/staff/stats/export.csv",
              "/en/staff/stats/export.json?period=week", "/en/staff/stats/report/?periods=2"]




def signed_in(role: str, *, verified: bool = True) -> Client:
    return staff_client_with_role(role, verified=verified)[0]  # type: ignore[no-any-return]


@pytest.mark.django_db
@pytest.mark.parametrize("url", STATS_URLS)
def test_contract_stats_role_matrix(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302 and "/staff/sign-in/" in response["Location"]
    response = signed_in(ADMIN, verified=False).get(url)
    assert response.status_code == 302 and "/second-factor/" in response["Location"]
    for role in (COUNSELLOR, SUPERVISOR):
        assert signed_in(role).get(url).status_code == 403, role
    for role in (PROGRAMME_MANAGER, ADMIN):
        assert signed_in(role).get(url).status_code == 200, role


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "message"), [
    ("?period=day", "Choose a period"),
    ("?period=month&key=26-01", "write it like 2026-02"),
    ("?period=week&key=2026-W10", "write it like 2026-02-w1"),  # weeks are parts of months, not ISO weeks
    ("?period=week&key=2026-10-w5", "write it like 2026-02-w1"),
    ("?period=year&key=2999", "has not ended yet"),
    ("?period=month&key=2026-01&from=2026-01-01", "Unknown parameter: from"),
    ("?period=month&period=year", "Give each parameter once"),
])
def test_bad_period_parameters_are_400_with_a_message(query: str, message: str) -> None:
    client = signed_in(PROGRAMME_MANAGER)
    for base in ("/en/staff/stats/", "/en/staff/stats/export.csv", "/en/staff/stats/report/"):
        response = client.get(base + query)
        assert response.status_code == 400, (base, query)
        assert message in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?period=year&key=9999", "?period=month&key=9999-12", "?period=quarter&key=9999-Q4",
                                   "?period=month&key=2026-13", "?period=month&key=2026-00"])
def test_a_period_that_cannot_exist_is_404_not_500(query: str) -> None:
    """Issue 14 item 12: a year whose end lies past the calendar Python can hold raised ValueError (500)."""
    client = signed_in(PROGRAMME_MANAGER)
    for base in ("/en/staff/stats/", "/en/staff/stats/export.csv", "/en/staff/stats/report/"):
        response = client.get(base + query)
        assert response.status_code == 404, (base, query)
        assert "no figures for that period" in response.content.decode()


@pytest.mark.django_db
def test_current_period_is_refused() -> None:
    client = signed_in(PROGRAMME_MANAGER)
    this_month = today().strftime("%Y-%m")
    assert client.get(f"/en/staff/stats/?period=month&key={this_month}").status_code == 400
    assert client.get("/en/staff/stats/report/?periods=13").status_code == 400


def scripted_month() -> tuple[str, datetime.date]:
    month = latest_closed("month", today())
    day = month.start + datetime.timedelta(days=2)
    for _ in range(12):
        increment("chat.offered", "en", day=day)
    for _ in range(3):
        increment("chat.offered", "nl", day=day)
    for dimension, n in {"<1": 7, "1-2": 2, "2-5": 6, "5-10": 0}.items():
        for _ in range(n):
            increment("chat.wait_bin", dimension, day=day)
    for _ in range(15):
        increment("chat.answered", "en", day=day)
    for _ in range(9):
        increment("chat.service_level", "within", day=day)
    for _ in range(6):
        increment("chat.service_level", "beyond", day=day)
    increment("site.referral", "poster", day=day, amount=4)
    # outside the month: must not count
    increment("chat.offered", "en", day=month.end, amount=100)
    increment("chat.offered", "en", day=month.start - datetime.timedelta(days=1), amount=10)
    return month.key, day


def json_export(client: Client, query: str) -> dict[str, Any]:
    response = client.get("/en/staff/stats/export.json" + query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def table(data: dict[str, Any], slug: str) -> dict[str, Any]:
    return next(t for t in data["tables"] if t["slug"] == slug)


def values(t: dict[str, Any]) -> dict[str, list[str]]:
    return {row["key"]: row["values"] for row in t["rows"]}


@pytest.mark.django_db
def test_contract_scripted_increments_show_exactly_the_expected_suppressed_figures() -> None:
    key, _day = scripted_month()
    client = signed_in(PROGRAMME_MANAGER)
    data = json_export(client, f"?period=month&key={key}")
    figures = {k["slug"]: k for k in data["key_figures"]}
    assert figures["chat.offered"]["value"] == "15"
    assert figures["chat.offered"]["previous"] == "10"
    assert figures["chat.offered"]["change"] == "+5"
    assert figures["chat.answered"]["value"] == "15"
    assert figures["answer_rate"]["value"] == "100%"
    # The service level is the waiting-time rows added up (<1 and 1-2 minutes): 7 + "<5", and 15 less the hidden
    # 2-5 row (at least 5, at most the smallest shown, 7): 8 to 10 of 15.
    assert figures["service_level"]["value"] == "53.3–66.7%"
    assert figures["site.referral"]["value"] == "<5"
    assert figures["site.referral"]["change"] == "–"
    # nl = 3 is small; en would give it away from the total 15, so en is hidden too.
    assert values(table(data, "languages")) == {"en": ["*", "15"], "nl": ["<5", "0"]}
    assert table(data, "languages")["totals"] == ["15", "15"]
    # 1-2 = 2 is small; the smallest shown cell (2-5 = 6) is hidden with it; 0 stays 0.
    assert values(table(data, "wait")) == {"<1": ["7"], "1-2": ["<5"], "2-5": ["*"], "5-10": ["0"], "10-20": ["0"],
                                           "20-40": ["0"], "40+": ["0"]}
    assert table(data, "wait")["totals"] == ["15"]
    assert values(table(data, "referral"))["poster"] == ["<5"]
    trend = table(data, "trend")
    assert trend["rows"][-1]["values"] == ["15", "15"] and trend["totals"] is None

    assert values(table(data, "service_level")) == {"within": ["8–10"], "beyond": ["5–7"]}

    csv_text = client.get(f"/en/staff/stats/export.csv?period=month&key={key}").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert ["1-2 min", "", "Chats: from 1 to 4 (fewer than 5 are not shown)"] in rows
    assert ["2-5 min", "", "Chats: hidden, so that a small number cannot be worked out from the total"] in rows
    assert ["<1 min", "7", ""] in rows
    assert ["Chats offered", "15", "10", "5", "Visitors who joined the chat queue. 5 more than in "
            + rows[3][2] + " (10)."][:4] == rows[4][:4]
    for row in rows[4:]:
        assert not set(row[1:-1]) & {"1", "2", "3", "4"}

    page = client.get(f"/en/staff/stats/?period=month&key={key}").content.decode()
    assert "<svg" in page and "<table>" in page and 'role="img"' in page
    assert ">&lt;5<" in page


@pytest.mark.django_db
def test_quarter_is_built_from_its_months() -> None:
    quarter = latest_closed("quarter", today())
    months = quarter.months()
    increment("chat.rating", "5", day=months[0].start, amount=3)
    increment("chat.rating", "4", day=months[0].start, amount=20)
    increment("chat.rating", "5", day=months[1].start, amount=8)
    increment("chat.rating", "4", day=months[1].start, amount=30)
    client = signed_in(ADMIN)
    data = json_export(client, f"?period=quarter&key={quarter.key}")
    rating = values(table(data, "rating"))
    # Month 1 shows 5 as "<5" and 4 as "*" (≥5); month 2 shows 8 and 30.
    assert rating["5"] == ["9–12"]
    assert rating["4"] == ["≥35"]
    assert table(data, "rating")["totals"] == ["61"]


@pytest.mark.django_db
def test_hour_of_week_table_for_a_month() -> None:
    month = latest_closed("month", today())
    # A 4-week block that ends inside the month (a month is at least 28 days, so there always is one).
    start = block_start(month.last_day)
    if start + datetime.timedelta(days=27) > month.last_day:
        start -= datetime.timedelta(days=28)
    assert month.start <= start + datetime.timedelta(days=27) <= month.last_day
    moment = timezone.make_aware(datetime.datetime.combine(start, datetime.time(9, 30)))  # Monday 09:30
    for _ in range(6):
        increment_hour_of_week("chat.demand_how", moment)
    for _ in range(12):
        increment_hour_of_week("chat.capacity_how", moment)
    increment_hour_of_week("chat.capacity_how", moment + datetime.timedelta(hours=1))
    data = json_export(signed_in(PROGRAMME_MANAGER), f"?period=month&key={month.key}")
    how = values(table(data, "hour_of_week"))
    # Rounded to the nearest 5 (6 → 5, 12 → 10); 1 is still "<5": no hour is published exactly.
    assert how["9"] == ["5", "10"] and how["10"] == ["0", "<5"]
    week = json_export(signed_in(ADMIN), "?period=week")
    assert all(t["slug"] != "hour_of_week" for t in week["tables"])


# --- the beacon ----------------------------------------------------------------------------------------


@pytest.fixture
def modules(db: None) -> None:
    load_all()


@pytest.mark.django_db
def test_contract_beacon_counts_and_sets_no_cookie(modules: None) -> None:
    client = Client()
    response = client.post("/count/", json.dumps({"metric": "selfhelp.module_completed",
                                                  "dimension": "managing-urges"}), content_type="application/json")
    assert response.status_code == 204
    assert not response.cookies
    assert "Set-Cookie" not in response
    assert DailyCount.objects.get(metric="selfhelp.module_completed", dimension="managing-urges",
                                  day=today()).count == 1
    response = client.post("/count/", json.dumps({"metric": "selfhelp.safety_plan_made"}),
                           content_type="application/json")
    assert response.status_code == 204


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "content_type", "status"), [
    ({"metric": "chat.answered", "dimension": "en"}, "application/json", 400),  # server-side only
    ({"metric": "selfhelp.page_view", "dimension": "urges"}, "application/json", 400),
    ({"metric": "selfhelp.module_completed", "dimension": "Not A Slug"}, "application/json", 400),
    # Issue 14 item 9: a well-formed slug that names no loaded module would become a row managers see.
    ({"metric": "selfhelp.module_completed", "dimension": "buy-cheap-pills"}, "application/json", 400),
    ({"metric": "selfhelp.module_started", "dimension": "urges"}, "application/json", 400),
    ({"metric": "selfhelp.selfcheck_completed", "dimension": "panic"}, "application/json", 400),
    ({"metric": "selfhelp.module_completed", "dimension": "urges", "visitor": "x"}, "application/json", 400),
    ({"metric": 5}, "application/json", 400),
    (["selfhelp.safety_plan_made"], "application/json", 400),
    ("not json", "application/json", 400),
    ({"metric": "selfhelp.safety_plan_made"}, "text/plain", 415),
    ({"metric": "selfhelp.module_completed", "dimension": "u" * 600}, "application/json", 413),
])
def test_beacon_refuses_everything_else(modules: None, body: object, content_type: str, status: int) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = Client().post("/count/", raw, content_type=content_type)
    assert response.status_code == status
    assert "message" in response.json()
    assert not DailyCount.objects.exists()


@pytest.mark.django_db
def test_beacon_is_post_only() -> None:
    assert Client().get("/count/").status_code == 405


@pytest.mark.django_db
def test_csv_export_cannot_carry_a_spreadsheet_formula() -> None:
    month = latest_closed("month", today())
    # Not a valid code (increment() refuses it), but a row from elsewhere, e.g. an older version, is never trusted.
    DailyCount.objects.create(metric="chat.wrapup", dimension="=cmd|x", day=month.start, count=9)
    rows = list(csv.reader(io.StringIO(signed_in(ADMIN).get(
        f"/en/staff/stats/export.csv?period=month&key={month.key}").content.decode("utf-8-sig"))))
    assert ["'=cmd|x", "9", ""] in rows


@pytest.mark.django_db
def test_printable_report_has_one_page_per_period_and_every_table_open() -> None:
    page = signed_in(PROGRAMME_MANAGER).get("/en/staff/stats/report/?period=month&periods=3").content.decode()
    assert page.count('<article class="report-page"') == 3
    assert "<details" not in page
    assert page.count("Demand and capacity by hour of the week</caption>") == 3

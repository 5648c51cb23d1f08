"""chat.hours: the open/closed badge's reading, its words in both languages, and how long a page showing it may be
cached (never past the next change)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import translation

from chat import hours
from chat.hours import ChatStatus, cache_seconds, describe, place_name, read_status
from chat.models import ClosedDay, OpeningHours, ServiceSettings

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY_0815 = dt.datetime(2026, 11, 30, 8, 15, tzinfo=AMSTERDAM)


@pytest.fixture
def weekday_hours(db: None) -> None:
    for weekday in range(5):
        OpeningHours.objects.create(weekday=weekday, opens=dt.time(9, 0), closes=dt.time(17, 0))


def test_no_hours_means_open_with_no_change_ahead(db: None) -> None:
    status = read_status(MONDAY_0815)
    assert status.is_open and status.changes_at is None
    assert describe(status) == {"short": "open", "long": "Open now"}


def test_closed_before_opening_says_when_it_opens_in_the_named_zone(weekday_hours: None) -> None:
    status = read_status(MONDAY_0815)
    assert not status.is_open
    assert status.changes_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=AMSTERDAM)
    assert describe(status)["long"] == "Closed now. Opens today at 09:00 (Amsterdam time)"
    with translation.override("nl"):
        assert describe(status) == {"short": "gesloten",
                                    "long": "Nu gesloten. Gaat vandaag open om 09:00 (tijd in Amsterdam)"}


def test_open_says_until_when(weekday_hours: None) -> None:
    status = read_status(MONDAY_0815 + dt.timedelta(hours=2))
    assert status.is_open
    assert describe(status)["long"] == "Open now, until 17:00 (Amsterdam time)"


def test_closed_days_and_weekends_push_the_opening_and_the_words_follow(weekday_hours: None) -> None:
    ClosedDay.objects.create(date=dt.date(2026, 12, 1))
    monday_evening = dt.datetime(2026, 11, 30, 18, 0, tzinfo=AMSTERDAM)
    assert describe(read_status(monday_evening))["long"] == "Closed now. Opens on Wednesday at 09:00 (Amsterdam time)"
    friday_evening = dt.datetime(2026, 12, 4, 18, 0, tzinfo=AMSTERDAM)
    with translation.override("nl"):
        assert describe(read_status(friday_evening))["long"] == (
            "Nu gesloten. Gaat maandag open om 09:00 (tijd in Amsterdam)")
    sunday = dt.datetime(2026, 12, 6, 12, 0, tzinfo=AMSTERDAM)
    assert describe(read_status(sunday))["long"] == "Closed now. Opens tomorrow at 09:00 (Amsterdam time)"
    ClosedDay.objects.bulk_create(ClosedDay(date=dt.date(2026, 12, 7) + dt.timedelta(days=n)) for n in range(33))
    assert describe(read_status(sunday))["long"] == "Closed now. Opens on 11 January at 09:00 (Amsterdam time)"


def test_the_service_time_zone_is_used_and_named(weekday_hours: None) -> None:
    ServiceSettings.objects.create(time_zone="Europe/London")
    status = read_status(dt.datetime(2026, 11, 30, 8, 30, tzinfo=dt.UTC))  # 09:30 in Amsterdam, 08:30 in London
    assert not status.is_open
    assert describe(status)["long"] == "Closed now. Opens today at 09:00 (London time)"
    assert place_name("America/Argentina/Buenos_Aires") == "Buenos Aires" and place_name("UTC") == "UTC"


def test_cache_seconds_never_reach_past_the_change() -> None:
    checked = MONDAY_0815
    closing_soon = ChatStatus(True, checked + dt.timedelta(seconds=90.7), "Europe/Amsterdam", checked)
    assert cache_seconds(closing_soon, 300) == 90
    assert cache_seconds(ChatStatus(True, checked + dt.timedelta(hours=3), "Europe/Amsterdam", checked), 300) == 300
    assert cache_seconds(ChatStatus(True, None, "Europe/Amsterdam", checked), 300) == 300
    assert cache_seconds(ChatStatus(False, checked - dt.timedelta(seconds=1), "Europe/Amsterdam", checked), 300) == 0


@pytest.mark.parametrize("path", ["/en/", "/nl/help/right-now/", "/en/help/modules/", "/nl/help/self-check/"])
def test_a_cached_page_is_never_reused_past_the_moment_the_chat_opens(weekday_hours: None, path: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hours, "now", lambda: dt.datetime(2026, 11, 30, 8, 58, 20, tzinfo=AMSTERDAM))
    response = Client().get(path)
    assert 'data-chat-open="no"' in response.content.decode()
    assert "max-age=100" in response["Cache-Control"], response["Cache-Control"]
    # After opening time a revalidation gets the new state: another body, so another ETag and no 304.
    monkeypatch.setattr(hours, "now", lambda: dt.datetime(2026, 11, 30, 9, 0, 1, tzinfo=AMSTERDAM))
    again = Client().get(path, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 200 and 'data-chat-open="yes"' in again.content.decode()


def test_the_badge_sits_next_to_every_chat_link_of_a_visitor_page(weekday_hours: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hours, "now", lambda: MONDAY_0815)
    for path in ["/en/", "/en/help/right-now/", "/en/privacy/", "/en/help/chat/"]:
        html = Client().get(path).content.decode()
        nav = html.split('class="site-nav"')[1].split("</nav>")[0]
        assert 'href="/en/help/chat/"' in nav and 'class="chat-badge is-closed short"' in nav, path
        assert ">closed</span>" in nav
    home = Client().get("/en/").content.decode()
    assert home.count("Closed now. Opens today at 09:00 (Amsterdam time)") == 1
    right_now = Client().get("/en/help/right-now/").content.decode()
    assert right_now.count("Closed now. Opens today at 09:00 (Amsterdam time)") == 2  # the button and the list

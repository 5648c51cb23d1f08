"""Signposting by country: the rule, the operator's setting, and the pages that lead with the service's own
countries (right now, the closed chat, the self-check's talk-now result), with names in the page's language."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from chat.models import ClosedDay
from selfhelp.countries import parse_countries
from selfhelp.loader import load_all
from selfhelp.models import Resource, Signposting
from selfhelp.signposting import RIGHT_NOW_CATEGORIES, group_by_country


@dataclass
class Line:
    key: str
    country: str
    category: str


LINES = [Line("uk-stop", "GB", "helpline"), Line("112", "", "emergency"), Line("nl-113", "NL", "crisis"),
         Line("nl-stop", "NL", "helpline"), Line("ie-sam", "IE", "crisis"), Line("uk-999", "GB", "emergency"),
         Line("nl-kids", "NL", "children"), Line("be-stop", "BE", "helpline")]


def keys(groups: list) -> list[tuple[str, list[str]]]:  # type: ignore[type-arg]
    return [(group.code, [line.key for line in group.resources]) for group in groups]


def test_the_service_country_comes_first_with_the_numbers_that_work_everywhere() -> None:
    with translation.override("en"):
        home, others = group_by_country(LINES, ["NL"], RIGHT_NOW_CATEGORIES)
    assert keys(home) == [("NL", ["112", "nl-stop", "nl-113"])]
    assert keys(others) == [("BE", ["be-stop"]), ("IE", ["ie-sam"]), ("GB", ["uk-999", "uk-stop"])]
    assert [group.name for group in others] == ["Belgium", "Ireland", "United Kingdom"]


def test_several_service_countries_keep_the_operators_order() -> None:
    home, others = group_by_country(LINES, ["GB", "IE"], RIGHT_NOW_CATEGORIES)
    assert keys(home) == [("GB", ["112", "uk-999", "uk-stop"]), ("IE", ["ie-sam"])]
    assert [group.code for group in others] == ["BE", "NL"]


def test_other_countries_are_sorted_by_their_name_in_the_page_language() -> None:
    with translation.override("nl"):
        _home, others = group_by_country(LINES, ["NL"], RIGHT_NOW_CATEGORIES)
    assert [group.name for group in others] == ["België", "Ierland", "Verenigd Koninkrijk"]


def test_country_lists_are_checked() -> None:
    assert parse_countries("gb; ie, GB") == ["GB", "IE"]
    for bad in ["", "  ", "UK", "NL, XX"]:
        with pytest.raises(ValueError):
            parse_countries(bad)


def test_the_admin_refuses_an_unknown_country_and_changes_nothing(db: None) -> None:
    setting = Signposting(countries="NL, UK")
    with pytest.raises(ValidationError, match="UK"):
        setting.full_clean()
    assert not Signposting.objects.exists()
    with pytest.raises(ValidationError):
        Resource(key="x", name_en="X", category="helpline", country="XX").full_clean()


@pytest.fixture
def content(db: None) -> None:
    load_all()


def cards(html: str, section_id: str) -> list[str]:
    section = html.split(f'id="{section_id}"')[1].split("</section>")[0]
    return re.findall(r"<h[34]>([^<]+)</h[34]>", section)


def test_dutch_right_now_page_leads_with_dutch_numbers_and_groups_the_rest(content: None) -> None:
    html = Client().get("/nl/help/right-now/").content.decode()
    reach = html.split('id="reach-a-person"')[1].split("</section>")[0]
    assert 'data-home-country="NL"' in reach
    assert "112 (alarmnummer)" in reach and "Stop it Now! Nederland" in reach
    for foreign in ["999", "Samaritans", "Stop It Now! Verenigd Koninkrijk", "Childline", "Kindertelefoon", "NSPCC"]:
        assert foreign not in reach, foreign
    crisis = html.split('id="crisis-heading"')[1].split("</section>")[0]
    assert "113 Zelfmoordpreventie" in crisis and "Samaritans" not in crisis
    others = html.split('id="other-countries-heading"')[1].split("</section>")[0]
    assert re.findall(r'data-other-country="(\w+)"', others) == ["IE", "GB"]
    assert "999 (alarmnummer, Verenigd Koninkrijk)" in others
    assert "Kindertelefoon" not in html and "Childline" not in html, "children's lines are not for this page"
    assert html.index('href="#reach-a-person"') < html.index("<ol class=\"steps\">"), "the jump link is at the top"


def test_english_page_follows_the_operators_countries(content: None) -> None:
    Signposting.objects.create(countries="GB, IE", own_phone="0800 000 000", own_phone_hours_en="Mon–Fri 9–17")
    html = Client().get("/en/help/right-now/").content.decode()
    reach = html.split('id="reach-a-person"')[1].split("</section>")[0]
    assert "0800 000 000" in reach and "Mon–Fri 9–17" in reach
    assert reach.index("0800 000 000") < reach.index('data-home-country="GB"')
    assert "999 (emergency number, UK)" in reach and "Stop It Now! UK and Ireland" in reach
    others = html.split('id="other-countries-heading"')[1].split("</section>")[0]
    assert re.findall(r'data-other-country="(\w+)"', others) == ["NL"]


def test_resource_names_are_dutch_on_dutch_pages(content: None) -> None:
    html = Client().get("/nl/help/resources/").content.decode()
    assert "112 (alarmnummer)" in html and "112 (emergency number)" not in html
    assert "Politie (geen spoed)" in html
    english = Client().get("/en/help/resources/").content.decode()
    assert "112 (emergency number)" in english and "Childline" in english


def test_stop_it_now_nederland_is_shipped_with_its_number_left_for_the_operator(content: None) -> None:
    stop = Resource.objects.get(key="stop-it-now-nl")
    assert (stop.country, stop.category, stop.web, stop.phone) == ("NL", "helpline", "https://stopitnow.nl", "")
    stop.phone = "0800 123 4567"  # what an operator does in the admin after checking the number
    stop.save()
    html = Client().get("/nl/help/self-check/").content.decode()
    assert 'href="tel:08001234567"' in html and "Bel Stop it Now! Nederland: 0800 123 4567" in html


def test_closed_chat_page_shows_the_alternatives_in_view(content: None) -> None:
    today = dt.date.today()
    ClosedDay.objects.bulk_create(ClosedDay(date=today + dt.timedelta(days=n)) for n in (-1, 0, 1))
    html = Client().get("/nl/help/chat/").content.decode()
    closed = html.split('id="chat-closed"')[1].split("</section>")[0]
    assert "hidden" not in html.split('id="chat-closed"')[1].split(">")[0]
    assert "Stop it Now! Nederland" in closed and "https://stopitnow.nl" in closed
    assert "113 Zelfmoordpreventie" in closed and "Samaritans" not in closed
    with translation.override("nl"):
        mailbox = reverse("securemessages:visitor")
    assert f'href="{mailbox}"' in closed, "the secure message is one of the alternatives"
    assert 'data-chat-open="no"' in html
    assert html.index('id="chat-closed"') < html.index("<h2>Openingstijden</h2>")
    open_page = ClosedDay.objects.all().delete() and Client().get("/nl/help/chat/").content.decode()
    assert 'id="chat-closed" class="chat-closed card" aria-labelledby="chat-closed-heading" hidden' in open_page

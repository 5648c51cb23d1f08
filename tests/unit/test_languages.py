"""The languages are listed once (helpline/languages.py); settings, the chat protocol, routing and the
content loader all read that list, and each language has a catalogue in every app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings

from chat.queue import Counsellor
from chat.schema import LANGS
from helpline.languages import LANGUAGE_CODES
from selfhelp.loader import LANGUAGES as CONTENT_LANGUAGES

REPO = Path(__file__).resolve().parent.parent.parent


def test_every_list_is_the_one_list() -> None:
    assert [code for code, _name in settings.LANGUAGES] == list(LANGUAGE_CODES)
    assert LANGS is LANGUAGE_CODES and CONTENT_LANGUAGES is LANGUAGE_CODES
    assert Counsellor("c", 1, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 0).languages == LANGUAGE_CODES
    assert settings.LANGUAGE_CODE in LANGUAGE_CODES


def test_each_language_but_the_source_one_has_a_catalogue_in_every_app() -> None:
    for app in ("helpline", "helpline/accounts", "helpline/metrics", "chat", "selfhelp"):
        for code in LANGUAGE_CODES:
            if code != settings.LANGUAGE_CODE:
                assert (REPO / app / "locale" / code / "LC_MESSAGES" / "django.po").exists(), (app, code)

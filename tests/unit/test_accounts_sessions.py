"""Staff sessions: a new session key at each sign-in step (issue 14, item 12)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from helpline.accounts.actions import create_staff
from helpline.accounts.models import SealedTOTPDevice
from helpline.accounts.roles import COUNSELLOR
from tests.unit.test_accounts_access import PASSWORD, current_code

pytestmark = pytest.mark.usefixtures("clear_lockouts")


def session_exists(key: str) -> bool:
    store: Any = import_module(settings.SESSION_ENGINE).SessionStore
    return bool(store().exists(key))


@pytest.mark.django_db
def test_contract_the_session_key_changes_at_the_password_and_at_the_second_factor_step() -> None:
    user, _ = create_staff("rotate", PASSWORD, [COUNSELLOR], with_totp=True)
    client = Client()
    before = client.session  # a session someone may have planted before sign-in (session fixation)
    before["planted"] = True
    before.save()
    planted = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.post("/en/staff/sign-in/", {"username": "rotate", "password": PASSWORD})
    assert response.status_code == 302
    after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_password != planted and not session_exists(planted)

    response = client.post("/en/staff/sign-in/second-factor/", {"code": current_code(SealedTOTPDevice.objects.get(user=user))})
    assert response.status_code == 302 and response["Location"] == "/en/staff/"
    verified = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert verified != after_password, "the second factor must give the session a new key"
    assert not session_exists(after_password)
    assert client.get("/en/staff/").status_code == 200
    # Whoever held the key from the password step holds nothing now.
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = after_password
    assert stale.get("/en/staff/").status_code == 302

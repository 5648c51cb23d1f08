"""Enrolling an authenticator needs a single-use, expiring link an administrator issued (issue 14, item 11).

Before, whoever first signed in with the password enrolled their own authenticator.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from helpline.accounts.actions import create_staff, issue_enrolment_link
from helpline.accounts.models import SealedTOTPDevice
from helpline.accounts.roles import ADMIN, COUNSELLOR
from tests.conftest import staff_client
from tests.unit.test_accounts_access import PASSWORD, current_code

LINK = re.compile(r"/(?:en|nl)/staff/enrol/[A-Za-z0-9_-]+/")

pytestmark = pytest.mark.usefixtures("clear_lockouts")


def sign_in_with_password(client: Client, username: str, next_url: str = "") -> Any:
    client.get("/en/staff/sign-in/")
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/en/staff/sign-in/" + (f"?next={next_url}" if next_url else ""), data, follow=True)


def enrol_through(client: Client, link: str) -> Any:
    """Open the link (signing in with the password on the way), confirm a code: the recovery-code page."""
    page = client.get(link)
    assert page.status_code == 200 and "<svg" in page.content.decode(), page.content.decode()[:500]
    device = SealedTOTPDevice.objects.get(user__username=page.context["user"].username, confirmed=False)
    return client.post(link, {"code": current_code(device)})


@pytest.mark.django_db
def test_contract_the_password_alone_cannot_enrol_an_authenticator() -> None:
    create_staff("newbie", PASSWORD, [COUNSELLOR])
    client = Client()
    page = sign_in_with_password(client, "newbie")
    assert page.redirect_chain[-1][0].startswith("/en/staff/sign-in/second-factor/")
    text = page.content.decode()
    assert "<svg" not in text and "enrolment link" in text
    assert not SealedTOTPDevice.objects.filter(user__username="newbie").exists(), "no seed is made for a password alone"
    assert client.post("/en/staff/sign-in/second-factor/", {"code": "123456"}).status_code == 200
    assert client.get("/en/staff/").status_code == 302


@pytest.mark.django_db
def test_a_link_enrols_once_then_signs_in_with_recovery_codes_shown_once() -> None:
    user, _ = create_staff("newbie", PASSWORD, [COUNSELLOR])
    link = issue_enrolment_link(user, lang="en")
    client = Client()
    first = client.get(link)
    assert first.status_code == 302 and first["Location"].startswith("/en/staff/sign-in/?next=")
    sign_in_with_password(client, "newbie", next_url=link)
    response = enrol_through(client, link)
    assert response.status_code == 302 and response["Location"] == "/en/staff/recovery-codes/"
    assert client.get("/en/staff/recovery-codes/").content.decode().count("<li><code>") == 10
    assert client.get("/en/staff/").status_code == 200
    # Used: the same link is now answered like any unknown one, even for its own person.
    again = client.get(link)
    assert again.status_code == 404 and "<svg" not in again.content.decode()


@pytest.mark.django_db
def test_a_wrong_code_on_the_enrolment_page_changes_nothing() -> None:
    user, _ = create_staff("newbie", PASSWORD, [COUNSELLOR])
    link = issue_enrolment_link(user, lang="en")
    client = Client()
    sign_in_with_password(client, "newbie", next_url=link)
    client.get(link)
    device = SealedTOTPDevice.objects.get(user=user, confirmed=False)
    wrong = "000000" if current_code(device) != "000000" else "111111"
    response = client.post(link, {"code": wrong})
    assert response.status_code == 200 and "not right" in response.content.decode()
    assert not SealedTOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert client.get("/en/staff/").status_code == 302


@pytest.mark.django_db
def test_an_expired_link_or_someone_elses_is_refused_like_an_unknown_one() -> None:
    user, _ = create_staff("newbie", PASSWORD, [COUNSELLOR])
    other, _ = create_staff("other", PASSWORD, [COUNSELLOR], with_totp=True)
    expired = issue_enrolment_link(user, lang="en")
    from helpline.accounts.models import EnrolmentInvitation

    EnrolmentInvitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    client = Client()
    sign_in_with_password(client, "newbie", next_url=expired)
    unknown = client.get("/en/staff/enrol/" + "A" * 32 + "/")
    assert unknown.status_code == 404
    assert client.get(expired).status_code == 404
    assert "This enrolment link does not work" in client.get(expired).content.decode()
    assert "This enrolment link does not work" in unknown.content.decode()
    # A valid link for another person: the signed-in "other" cannot enrol with it.
    link = issue_enrolment_link(user, lang="en")
    intruder = staff_client(other)
    assert intruder.get(link).status_code == 404
    assert intruder.post(link, {"code": "123456"}).status_code == 404
    assert not SealedTOTPDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_a_new_link_replaces_a_lost_authenticator_and_the_old_one_stops_working() -> None:
    user, _ = create_staff("lostphone", PASSWORD, [COUNSELLOR], with_totp=True)
    old = SealedTOTPDevice.objects.get(user=user, confirmed=True)
    old_code_later = current_code(old, 2)
    link = issue_enrolment_link(user, lang="en")
    client = Client()
    sign_in_with_password(client, "lostphone", next_url=link)
    assert enrol_through(client, link)["Location"] == "/en/staff/recovery-codes/"
    assert not SealedTOTPDevice.objects.filter(pk=old.pk).exists()
    fresh = Client()
    sign_in_with_password(fresh, "lostphone")
    assert fresh.post("/en/staff/sign-in/second-factor/", {"code": old_code_later}).status_code == 200
    assert fresh.get("/en/staff/").status_code == 302


@pytest.mark.django_db
def test_only_the_newest_link_works() -> None:
    user, _ = create_staff("newbie", PASSWORD, [COUNSELLOR])
    first = issue_enrolment_link(user, lang="en")
    second = issue_enrolment_link(user, lang="en")
    client = Client()
    sign_in_with_password(client, "newbie", next_url=second)
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


@pytest.mark.django_db
def test_the_operator_command_and_add_staff_print_a_working_link() -> None:
    import os

    out = io.StringIO()

    os.environ["HELPLINE_TEST_PASSWORD"] = PASSWORD
    try:
        call_command("add_staff", "newbie", "--role", "counsellor", "--password-env", "HELPLINE_TEST_PASSWORD",
                     stdout=out)
    finally:
        del os.environ["HELPLINE_TEST_PASSWORD"]
    assert LINK.search(out.getvalue()), out.getvalue()
    out = io.StringIO()
    call_command("enrolment_link", "newbie", "--lang", "nl", "--base-url", "https://help.example", stdout=out)
    printed = re.search(r"https://help\.example(/nl/staff/enrol/[A-Za-z0-9_-]+/)", out.getvalue())
    assert printed, out.getvalue()
    client = Client()
    sign_in_with_password(client, "newbie", next_url=printed.group(1))
    assert client.get(printed.group(1)).status_code == 200
    with pytest.raises(Exception, match="no staff member"):
        call_command("enrolment_link", "nobody", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_admin_action_shows_each_link_once_and_stores_only_a_hash() -> None:
    from django.contrib.auth import get_user_model

    from helpline.accounts.models import EnrolmentInvitation

    _admin_user, _ = create_staff("boss", PASSWORD, [ADMIN], with_totp=True)
    newbie, _ = create_staff("newbie", PASSWORD, [COUNSELLOR])
    admin = staff_client(get_user_model().objects.get(username="boss"))
    response = admin.post("/en/staff/admin/auth/user/", {"action": "issue_enrolment_links",
                                                          "_selected_action": [newbie.pk]})
    assert response.status_code == 200
    links = LINK.findall(response.content.decode())
    assert len(links) == 1
    token = links[0].rstrip("/").rsplit("/", 1)[1]
    stored = EnrolmentInvitation.objects.get(user=newbie)
    assert token not in stored.token_hash
    client = Client()
    sign_in_with_password(client, "newbie", next_url=links[0])
    assert client.get(links[0]).status_code == 200


@pytest.mark.django_db
def test_the_enrolment_pages_speak_dutch_under_nl() -> None:
    create_staff("nieuw", PASSWORD, [COUNSELLOR])
    client = Client()
    client.post("/nl/staff/sign-in/", {"username": "nieuw", "password": PASSWORD})
    assert "Je authenticator-app is nog niet ingesteld" in client.get("/nl/staff/sign-in/second-factor/").content.decode()
    assert "Deze koppellink werkt niet" in client.get("/nl/staff/enrol/" + "A" * 32 + "/").content.decode()

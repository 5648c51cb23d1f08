"""Guessing cannot lock a counsellor out of a browser they signed in from before (issue 14, item 6).

OWASP's device cookies on top of django-axes: wrong passwords from browsers that never completed a sign-in
as that person lock only such browsers; a browser that did has a counter of its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from helpline.accounts.actions import create_staff
from helpline.accounts.guessing import cookie_name
from helpline.accounts.models import SealedTOTPDevice
from helpline.accounts.roles import COUNSELLOR
from tests.unit.test_accounts_access import PASSWORD, current_code

pytestmark = pytest.mark.usefixtures("clear_lockouts")


def sign_in_fully(client: Client, username: str, step_offset: int = 0) -> None:
    """Password and second factor; `step_offset` picks a later TOTP step (a code is accepted once)."""
    response = client.post("/en/staff/sign-in/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    device = SealedTOTPDevice.objects.get(user__username=username, confirmed=True)
    response = client.post("/en/staff/sign-in/second-factor/", {"code": current_code(device, step_offset)})
    assert response.status_code == 302 and response["Location"] == "/en/staff/"


def guess(username: str, times: int | None = None, client: Client | None = None) -> int:
    status = 0
    for _ in range(times or settings.AXES_FAILURE_LIMIT):
        status = (client or Client()).post("/en/staff/sign-in/", {"username": username, "password": "wrong"}).status_code
    return status


@pytest.mark.django_db
def test_contract_anonymous_guessing_does_not_lock_out_a_browser_that_signed_in_before() -> None:
    create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    usual = Client()
    sign_in_fully(usual, "counsellor")
    usual.post("/en/staff/sign-out/")
    assert guess("counsellor", settings.AXES_FAILURE_LIMIT + 2) == 429
    # Anyone else, right password or not, waits for the cool-off…
    assert Client().post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 429
    # …but the counsellor's own browser signs in as usual.
    response = usual.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD})
    assert response.status_code == 302 and "second-factor" in response["Location"]


@pytest.mark.django_db
def test_a_known_browser_that_guesses_locks_only_itself() -> None:
    create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    office, laptop = Client(), Client()
    sign_in_fully(office, "counsellor")
    sign_in_fully(laptop, "counsellor", step_offset=1)
    assert guess("counsellor", client=laptop) == 429
    assert laptop.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 429
    assert office.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 302
    assert Client().post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_a_forged_or_borrowed_cookie_counts_as_an_unknown_browser() -> None:
    create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    create_staff("colleague", PASSWORD, [COUNSELLOR], with_totp=True)
    own = Client()
    sign_in_fully(own, "colleague")  # a browser known for the colleague only
    value = own.cookies[cookie_name()].value
    guess("counsellor")
    assert own.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 429
    forged = Client()
    forged.cookies[cookie_name()] = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    assert forged.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_the_known_browser_cookie_is_a_staff_cookie_and_names_nobody() -> None:
    create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    client = Client()
    response = client.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD})
    assert cookie_name() not in response.cookies, "only a completed sign-in makes a browser known"
    sign_in_fully(Client(), "counsellor")  # nothing to do with `client`
    device = SealedTOTPDevice.objects.get(user__username="counsellor")
    response = client.post("/en/staff/sign-in/second-factor/", {"code": current_code(device, 1)})
    cookie = response.cookies[cookie_name()]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert int(cookie["max-age"]) > 30 * 24 * 3600, "it outlives the session, or it would be useless"
    assert "counsellor" not in cookie.value
    for visitor_page in ("/en/", "/en/help/chat/", "/en/help/right-now/"):
        assert not client.get(visitor_page).cookies, visitor_page


@pytest.mark.django_db
def test_under_tls_the_cookie_is_secure_and_host_only(settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    client = Client()
    client.post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}, secure=True)
    device = SealedTOTPDevice.objects.get(user__username="counsellor")
    response = client.post("/en/staff/sign-in/second-factor/", {"code": current_code(device)}, secure=True)
    assert cookie_name() == "__Host-staffbrowser"
    assert response.cookies[cookie_name()]["secure"]


# --- pseudonyms: the name visitors see must not be a username someone could lock or guess at ---

def register_demo_device(username: str) -> str:
    """The demo console's step: register a device key, which the demo certifies at once; its pseudonym."""
    import json

    from django.contrib.auth import get_user_model

    from chat.models import CounsellorDevice
    from chat.protocol.crypto import b64e, generate_private_key, public_key_bytes
    from tests.conftest import staff_client

    client = staff_client(get_user_model().objects.get(username=username))
    response = client.post("/chat/device/", json.dumps({"key": b64e(public_key_bytes(generate_private_key()))}),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    device = CounsellorDevice.objects.get(pk=response.json()["device"])
    assert device.status == CounsellorDevice.CERTIFIED
    return str(device.pseudonym)


@pytest.mark.django_db
def test_contract_demo_pseudonyms_never_equal_usernames(settings: Any, tmp_path: Any) -> None:
    import io

    from django.core.management import call_command

    from helpline.accounts.management.commands.demo_setup import DEMO_STAFF

    settings.VAR_DIR = tmp_path
    settings.DEMO_AUTOCERTIFY = True
    call_command("demo_setup", stdout=io.StringIO())
    from helpline.accounts.roles import ROLE_CAPABILITIES

    counsellors = [name for name, roles in DEMO_STAFF.items() if any("counsel" in ROLE_CAPABILITIES[r] for r in roles)]
    assert len(counsellors) == 3
    for username in counsellors:
        pseudonym = register_demo_device(username)
        assert pseudonym.casefold() != username.casefold(), (username, pseudonym)
    # Someone without a first name set is not shown under their username either.
    create_staff("no-first-name", PASSWORD, [COUNSELLOR], with_totp=True)
    assert register_demo_device("no-first-name") != "no-first-name"


@pytest.mark.django_db
@pytest.mark.parametrize("pseudonym", ["colleague", "Colleague", " colleague "])
def test_certifying_under_a_staff_username_is_refused(settings: Any, tmp_path: Any, pseudonym: str) -> None:
    import io

    from cryptography.hazmat.primitives import serialization
    from django.core.management import CommandError, call_command

    from chat.models import CounsellorDevice
    from chat.protocol.crypto import b64e, generate_private_key, public_key_bytes

    org = generate_private_key()
    key_file = tmp_path / "org.pem"
    key_file.write_bytes(org.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    settings.ORG_PUBLIC_KEY = b64e(public_key_bytes(org))
    settings.DEMO_AUTOCERTIFY = False
    user, _ = create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    create_staff("colleague", PASSWORD, [COUNSELLOR], with_totp=True)
    device = CounsellorDevice.objects.create(user=user, public_key=b64e(public_key_bytes(generate_private_key())))
    with pytest.raises(CommandError, match="username"):
        call_command("certify_device", device.pk, "--org-key", str(key_file), "--pseudonym", pseudonym,
                     stdout=io.StringIO())
    assert CounsellorDevice.objects.get(pk=device.pk).status == CounsellorDevice.PENDING


@pytest.mark.django_db
def test_an_administrator_can_lift_the_pause_for_new_browsers() -> None:
    import io

    from django.core.management import call_command

    create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    guess("counsellor")
    assert Client().post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 429
    call_command("axes_reset_username", "counsellor", stdout=io.StringIO())
    assert Client().post("/en/staff/sign-in/", {"username": "counsellor", "password": PASSWORD}).status_code == 302

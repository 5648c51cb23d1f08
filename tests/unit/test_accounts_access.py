"""The staff gate: sign-in, second factor, role; lockout by username; codes that cannot be replayed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP

from helpline.accounts.access import COUNSEL, SUPERVISE, VIEW_STATISTICS, Decision, staff_decision
from helpline.accounts.actions import create_staff
from helpline.accounts.models import SealedTOTPDevice
from helpline.accounts.roles import ADMIN, COUNSELLOR, PROGRAMME_MANAGER, SUPERVISOR
from tests.conftest import staff_client_with_role

PASSWORD = "a-long-test-password-1"

# url -> roles that may open it (anyone signed in with a verified second factor may open the staff home)
ROLE_MATRIX = {
    "/en/staff/": {COUNSELLOR, SUPERVISOR, PROGRAMME_MANAGER, ADMIN},
    "/en/staff/chat/": {COUNSELLOR, SUPERVISOR, ADMIN},
    "/en/staff/chat/supervise/": {SUPERVISOR, ADMIN},
    "/en/staff/stats/": {PROGRAMME_MANAGER, ADMIN},
    "/en/staff/admin/": {ADMIN},
}


def signed_in(role: str, *, verified: bool = True) -> tuple[Client, Any]:
    return staff_client_with_role(role, verified=verified)  # type: ignore[no-any-return]


def current_code(device: SealedTOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset_steps * device.step
    return f"{totp.token():06d}"




@pytest.mark.django_db
@pytest.mark.parametrize("role", [COUNSELLOR, SUPERVISOR, PROGRAMME_MANAGER, ADMIN])
@pytest.mark.parametrize("url", list(ROLE_MATRIX))
def test_role_matrix(role: str, url: str) -> None:
    client, _user = signed_in(role)
    response = client.get(url)
    if role in ROLE_MATRIX[url]:
        assert response.status_code == 200, (role, url, response.status_code)
    else:
        assert response.status_code in {302, 403}, (role, url, response.status_code)
        if response.status_code == 302:  # only the admin site redirects, to its own login
            assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", list(ROLE_MATRIX))
def test_contract_anonymous_is_sent_to_sign_in(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert "sign-in" in response["Location"] or "admin/login" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [u for u in ROLE_MATRIX if "admin" not in u])
def test_contract_password_without_second_factor_opens_nothing(url: str) -> None:
    client, _user = signed_in(ADMIN, verified=False)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/en/staff/sign-in/second-factor/")


@pytest.mark.django_db
def test_admin_site_demands_second_factor() -> None:
    client, _user = signed_in(ADMIN, verified=False)
    assert client.get("/en/staff/admin/").status_code == 302


@pytest.mark.django_db
def test_staff_decision_cases() -> None:
    from django.contrib.auth.models import AnonymousUser

    user, _ = create_staff("gate", PASSWORD, [COUNSELLOR], with_totp=True)
    device = SealedTOTPDevice.objects.get(user=user)
    verified = {DEVICE_ID_SESSION_KEY: device.persistent_id}
    assert staff_decision(AnonymousUser(), {}, COUNSEL) is Decision.SIGN_IN
    assert staff_decision(user, {}, COUNSEL) is Decision.SECOND_FACTOR
    assert staff_decision(user, verified, COUNSEL) is Decision.ALLOWED
    assert staff_decision(user, verified, SUPERVISE) is Decision.FORBIDDEN
    assert staff_decision(user, verified, VIEW_STATISTICS) is Decision.FORBIDDEN
    other, _ = create_staff("other", PASSWORD, [COUNSELLOR], with_totp=True)
    others_device = {DEVICE_ID_SESSION_KEY: SealedTOTPDevice.objects.get(user=other).persistent_id}
    assert staff_decision(user, others_device, COUNSEL) is Decision.SECOND_FACTOR
    device.confirmed = False
    device.save()
    assert staff_decision(user, verified, COUNSEL) is Decision.SECOND_FACTOR
    user.is_active = False
    assert staff_decision(user, verified, COUNSEL) is Decision.SIGN_IN
    with pytest.raises(ValueError, match="unknown capability"):
        staff_decision(user, verified, "everything")


@pytest.mark.django_db
def test_sign_in_rotates_session_and_totp_code_cannot_be_replayed() -> None:
    user, _ = create_staff("signin", PASSWORD, [COUNSELLOR], with_totp=True)
    device = SealedTOTPDevice.objects.get(user=user)
    client = Client()
    client.get("/en/staff/sign-in/")
    response = client.post("/en/staff/sign-in/", {"username": "signin", "password": PASSWORD})
    assert response.status_code == 302 and "second-factor" in response["Location"]
    session_after_password = client.cookies["sessionid"].value
    code = current_code(device)
    response = client.post("/en/staff/sign-in/second-factor/", {"code": code})
    assert response.status_code == 302 and response["Location"] == "/en/staff/"
    assert client.get("/en/staff/").status_code == 200
    # The same code a second time, in a fresh sign-in, is refused.
    other = Client()
    other.post("/en/staff/sign-in/", {"username": "signin", "password": PASSWORD})
    assert other.cookies["sessionid"].value != session_after_password
    replay = other.post("/en/staff/sign-in/second-factor/", {"code": code})
    assert replay.status_code == 200
    assert "already used" in replay.content.decode()
    assert other.get("/en/staff/").status_code == 302


@pytest.mark.django_db
def test_recovery_code_works_once() -> None:
    from django_otp.plugins.otp_static.models import StaticDevice

    from helpline.accounts.actions import confirm_totp_and_issue_recovery_codes

    user, _ = create_staff("recover", PASSWORD, [COUNSELLOR], with_totp=True)
    codes = confirm_totp_and_issue_recovery_codes(SealedTOTPDevice.objects.get(user=user))
    for attempt, expected in ((1, "/en/staff/"), (2, None)):
        client = Client()
        client.post("/en/staff/sign-in/", {"username": "recover", "password": PASSWORD})
        response = client.post("/en/staff/sign-in/second-factor/", {"code": codes[0]})
        if expected:
            assert response.status_code == 302 and response["Location"] == expected, attempt
        else:
            assert response.status_code == 200, attempt
    assert StaticDevice.objects.get(user=user).token_set.count() == 9


@pytest.mark.django_db
def test_lockout_is_by_username_with_a_clear_message() -> None:
    from django.conf import settings

    create_staff("target", PASSWORD, [COUNSELLOR], with_totp=True)
    create_staff("bystander", PASSWORD, [COUNSELLOR], with_totp=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/en/staff/sign-in/", {"username": "target", "password": "wrong"})
    locked = Client().post("/en/staff/sign-in/", {"username": "target", "password": PASSWORD})
    assert locked.status_code == 429
    assert "try again in 15 minutes" in locked.content.decode()
    ok = Client().post("/en/staff/sign-in/", {"username": "bystander", "password": PASSWORD})
    assert ok.status_code == 302, "another username is not affected"
    assert get_user_model().objects.filter(username="target").exists()


@pytest.fixture(autouse=True)
def _clear_lockouts() -> Any:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_a_sign_in_redirect_with_an_absurd_query_keeps_only_the_path(client: Any) -> None:
    response = client.get("/en/staff/stats/?" + "x=1&" * 5000)
    assert response.status_code == 302
    assert response["Location"].endswith("?next=/en/staff/stats/")
    response = client.get("/en/staff/stats/?period=month")
    assert response["Location"].endswith("?next=/en/staff/stats/%3Fperiod%3Dmonth")

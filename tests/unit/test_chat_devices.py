"""The counsellor device API and the operator commands: register, certify, revoke, list, purge."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from chat.models import Chat, CounsellorDevice
from chat.protocol.crypto import b64d, b64e, generate_private_key, public_key_bytes, utc_today, verify_certificate
from helpline.accounts.actions import create_staff
from helpline.accounts.models import SealedTOTPDevice
from helpline.metrics.models import DailyCount

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(tmp_path: Path, settings: Any) -> tuple[Any, Path]:
    key = generate_private_key()
    path = tmp_path / "org_private_key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    settings.VAR_DIR = tmp_path
    settings.ORG_PUBLIC_KEY = b64e(public_key_bytes(key))
    settings.DEMO_AUTOCERTIFY = False
    return key, path


def staff_client(username: str, role: str = "counsellor", *, verified: bool = True) -> tuple[Client, Any]:
    user, _ = create_staff(username, "a-long-test-password-1", [role], with_totp=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    if verified:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = SealedTOTPDevice.objects.get(user=user).persistent_id
        session.save()
    client.get("/en/staff/")  # sets the CSRF cookie
    return client, user


def post_key(client: Client, key: str | None = None, body: Any = None) -> Any:
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    payload = body if body is not None else {"key": key or b64e(public_key_bytes(generate_private_key()))}
    return client.post("/chat/device/", json.dumps(payload), content_type="application/json",
                       headers={"X-CSRFToken": token})


def test_register_then_read_pending(org: Any) -> None:
    client, _user = staff_client("c1")
    response = post_key(client)
    assert response.status_code == 201
    device = response.json()["device"]
    assert response.json() == {"device": device, "status": "pending"}
    assert client.get(f"/chat/device/{device}/").json() == {"device": device, "status": "pending", "cert": None}


def test_demo_autocertify(org: Any, settings: Any) -> None:
    settings.DEMO_AUTOCERTIFY = True
    client, user = staff_client("c1")
    user.first_name = "Sam"
    user.save()
    response = post_key(client)
    assert response.json()["status"] == "certified"
    answer = client.get(f"/chat/device/{response.json()['device']}/").json()
    checked = verify_certificate(answer["cert"], b64d(settings.ORG_PUBLIC_KEY), utc_today())
    assert checked.pseudonym == "Sam"
    assert checked.not_after == utc_today() + dt.timedelta(days=90)


def test_no_autocertify_without_the_key_file(org: Any, settings: Any) -> None:
    settings.DEMO_AUTOCERTIFY = True
    org[1].unlink()
    client, _user = staff_client("c1")
    assert post_key(client).json()["status"] == "pending"


def test_someone_elses_device_is_answered_like_a_missing_one(org: Any) -> None:
    owner, _ = staff_client("owner")
    device = post_key(owner).json()["device"]
    other, _ = staff_client("other")
    assert other.get(f"/chat/device/{device}/").status_code == 404
    assert other.get(f"/chat/device/{b64e(bytes(16))}/").status_code == 404


@pytest.mark.parametrize("body", [{"key": "nope"}, {"key": b64e(b"\x04" + bytes(64))}, {"key": 1}, {},
                                  {"key": b64e(public_key_bytes(generate_private_key())), "pseudonym": "x"}, []])
def test_register_is_strict(org: Any, body: Any) -> None:
    client, _ = staff_client("c1")
    assert post_key(client, body=body).status_code == 400
    assert not CounsellorDevice.objects.exists()


def test_register_needs_csrf(org: Any) -> None:
    client, _ = staff_client("c1")
    response = client.post("/chat/device/", json.dumps({"key": b64e(public_key_bytes(generate_private_key()))}),
                           content_type="application/json")
    assert response.status_code == 403


@pytest.mark.parametrize(("role", "verified"), [("counsellor", False), ("programme_manager", True)])
def test_register_needs_a_verified_counsellor(org: Any, role: str, verified: bool) -> None:
    client, _ = staff_client("someone", role, verified=verified)
    assert post_key(client).status_code in {302, 403}
    assert not CounsellorDevice.objects.exists()


def test_the_same_key_twice(org: Any) -> None:
    client, _ = staff_client("c1")
    key = b64e(public_key_bytes(generate_private_key()))
    assert post_key(client, key).status_code == 201
    assert post_key(client, key).status_code == 409


def test_certify_list_and_revoke_commands(org: Any, settings: Any) -> None:
    client, _user = staff_client("c1")
    device = post_key(client).json()["device"]
    out = io.StringIO()
    call_command("list_devices", stdout=out)
    assert device in out.getvalue() and "pending" in out.getvalue()
    call_command("certify_device", device, "--org-key", str(org[1]), "--pseudonym", "Robin", "--days", "30",
                 stdout=io.StringIO())
    answer = client.get(f"/chat/device/{device}/").json()
    assert answer["status"] == "certified"
    assert verify_certificate(answer["cert"], b64d(settings.ORG_PUBLIC_KEY), utc_today()).pseudonym == "Robin"
    call_command("revoke_device", device, stdout=io.StringIO())
    assert client.get(f"/chat/device/{device}/").json() == {"device": device, "status": "revoked", "cert": None}
    with pytest.raises(CommandError):
        call_command("certify_device", device, "--org-key", str(org[1]), "--pseudonym", "Robin")


@pytest.mark.parametrize("pseudonym", ["", "x" * 41, "two\nlines"])
def test_certify_refuses_bad_pseudonyms(org: Any, pseudonym: str) -> None:
    client, _ = staff_client("c1")
    device = post_key(client).json()["device"]
    with pytest.raises(CommandError):
        call_command("certify_device", device, "--org-key", str(org[1]), "--pseudonym", pseudonym)
    assert CounsellorDevice.objects.get().status == "pending"


def test_certify_unknown_device(org: Any) -> None:
    with pytest.raises(CommandError):
        call_command("certify_device", b64e(bytes(16)), "--org-key", str(org[1]), "--pseudonym", "R")


def test_purge_chat_state(settings: Any) -> None:
    now = timezone.now()
    long_ago = now - dt.timedelta(hours=2)
    Chat.objects.create(lang="en", resume_hash="a" * 64, queued_at=long_ago, waiting_since=long_ago,
                        visitor_left_at=now - dt.timedelta(seconds=settings.RESUME_GRACE_SECONDS + 5))
    Chat.objects.create(lang="en", resume_hash="b" * 64, queued_at=long_ago, waiting_since=long_ago,
                        visitor_channel="specific.x")
    Chat.objects.create(lang="nl", resume_hash="c" * 64, queued_at=now, waiting_since=now, visitor_channel="s.y")
    call_command("purge_chat_state", stdout=io.StringIO())
    assert Chat.objects.count() == 2
    call_command("purge_chat_state", "--older-than-minutes", "60", stdout=io.StringIO())
    assert list(Chat.objects.values_list("lang", flat=True)) == ["nl"]
    cells = {(c.metric, c.dimension): c.count for c in DailyCount.objects.all()}
    assert cells == {("chat.abandoned_queued", "40+"): 2}


def test_capacity_is_counted_once_per_counsellor_per_hour() -> None:
    from django.core.cache import cache

    from chat import actions
    from helpline.metrics.models import HourOfWeekCount

    cache.clear()
    moment = timezone.now()
    for _ in range(3):
        actions.count_capacity(1, moment)
    actions.count_capacity(2, moment)
    assert sum(HourOfWeekCount.objects.filter(metric="chat.capacity_how").values_list("count", flat=True)) == 2


def test_opening_hours_must_close_after_they_open() -> None:
    from django.core.exceptions import ValidationError

    from chat.models import OpeningHours

    with pytest.raises(ValidationError):
        OpeningHours(weekday=0, opens=dt.time(18), closes=dt.time(9)).full_clean()
    OpeningHours(weekday=0, opens=dt.time(9), closes=dt.time(18)).full_clean()


@pytest.mark.parametrize("model", ["cannedresponse", "openinghours", "closedday", "servicesettings",
                                   "counsellordevice"])
def test_admin_pages_for_chat_settings(model: str) -> None:
    client, _ = staff_client("admin-user", "admin")
    assert client.get(f"/en/staff/admin/chat/{model}/").status_code == 200
    assert client.get(f"/en/staff/admin/chat/{model}/add/").status_code in {200, 403}


def test_live_chats_are_not_in_the_admin() -> None:
    client, _ = staff_client("admin-user", "admin")
    assert client.get("/en/staff/admin/chat/chat/").status_code == 404


def test_device_ids_never_read_as_a_command_line_option() -> None:
    from chat.models import new_device_id

    ids = [new_device_id() for _ in range(2000)]  # without the redraw, ~31 of these would start with "-"
    assert not [device_id for device_id in ids if device_id.startswith("-")]
    assert len(set(ids)) == len(ids) and {len(device_id) for device_id in ids} == {22}

"""GET /chat/colleagues/: whom the console's hand-over dialog offers, with their state and device keys.

The gate is the counsel capability with a verified second factor, as for every staff endpoint; the answer lists
other people who may counsel (never oneself, never someone who may not counsel or is inactive), whether they have
the console open and take new chats, and the encryption keys of their certified, unexpired devices only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from chat.models import CounsellorDevice, CounsellorPresence
from chat.protocol.crypto import (
    b64e,
    generate_private_key,
    make_certificate,
    private_key_from_scalar_hex,
    public_key_bytes,
    utc_today,
)
from helpline.accounts.actions import create_staff
from securemessages.crypto import sign_ek_binding
from securemessages.models import DeviceKey
from tests.conftest import staff_client
from tests.unit.conftest import load_protocol_vectors

pytestmark = pytest.mark.django_db

URL = "/chat/colleagues/"


@dataclass
class Person:
    client: Client
    user: Any
    device: CounsellorDevice


def counsellor(username: str, role: str = "counsellor", *, register: bool = True) -> Person:
    """A signed-in staff member with a certified device and, unless told otherwise, its encryption key."""
    user, _ = create_staff(username, "a-long-test-password-1", [role], with_totp=True)
    signing = generate_private_key()
    device = CounsellorDevice.objects.create(user=user, public_key=b64e(public_key_bytes(signing)))
    not_after = utc_today() + dt.timedelta(days=90)
    org = private_key_from_scalar_hex(load_protocol_vectors()["org"]["private_scalar_hex"])
    device.certificate = make_certificate(org, device.pk, username.title(), public_key_bytes(signing), not_after)
    device.status, device.not_after, device.pseudonym = CounsellorDevice.CERTIFIED, not_after, username.title()
    device.save()
    if register:
        ek = b64e(public_key_bytes(generate_private_key()))
        DeviceKey.objects.create(device=device, ek=ek, ek_sig=sign_ek_binding(signing, device.pk, ek))
    return Person(staff_client(user), user, device)


def listing(client: Client) -> dict[str, dict[str, Any]]:
    response = client.get(URL)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"].startswith("max-age=0")
    return {str(entry["name"]): entry for entry in response.json()["colleagues"]}


def test_colleagues_with_their_state_and_certified_devices() -> None:
    me = counsellor("me")
    alex = counsellor("alex", "supervisor")
    counsellor("robin")  # a device with an encryption key, but no console open
    nokey = counsellor("nokey", register=False)
    CounsellorPresence.objects.create(channel="alex-tab", user=alex.user, available=False, boot="b")
    CounsellorPresence.objects.create(channel="alex-other-tab", user=alex.user, available=True, boot="b")
    CounsellorPresence.objects.create(channel="nokey-tab", user=nokey.user, available=False, boot="b")
    CounsellorPresence.objects.create(channel="my-tab", user=me.user, available=True, boot="b")
    create_staff("manager", "a-long-test-password-1", ["programme_manager"], with_totp=True)
    gone, _ = create_staff("gone", "a-long-test-password-1", ["counsellor"], with_totp=True)
    gone.is_active = False
    gone.save()

    people = listing(me.client)
    assert set(people) == {"alex", "robin", "nokey"}, "others who may counsel: not me, the manager, the inactive"
    assert (people["alex"]["online"], people["alex"]["available"]) == (True, True), "any tab available counts"
    assert (people["nokey"]["online"], people["nokey"]["available"]) == (True, False)
    assert people["nokey"]["devices"] == [], "a device without an encryption key cannot receive a bundle"
    assert (people["robin"]["online"], people["robin"]["available"]) == (False, False)
    device = people["alex"]["devices"][0]
    assert set(device) == {"cert", "ek", "ek_sig"}
    assert device["cert"]["device"] == alex.device.pk and device["cert"] == alex.device.certificate
    assert people["alex"]["id"] == alex.user.pk


def test_revoked_and_expired_devices_are_left_out() -> None:
    me = counsellor("me")
    revoked = counsellor("revoked")
    expired = counsellor("expired")
    CounsellorDevice.objects.filter(pk=revoked.device.pk).update(status=CounsellorDevice.REVOKED)
    CounsellorDevice.objects.filter(pk=expired.device.pk).update(not_after=dt.date(2020, 1, 1))
    people = listing(me.client)
    assert people["revoked"]["devices"] == [] and people["expired"]["devices"] == []


@pytest.mark.parametrize(("role", "verified", "status"), [
    ("programme_manager", True, 403),
    ("counsellor", False, 302),
    ("supervisor", True, 200),
    ("admin", True, 200),
])
def test_only_verified_staff_who_may_counsel(role: str, verified: bool, status: int) -> None:
    user, _ = create_staff(f"someone-{role}", "a-long-test-password-1", [role], with_totp=True)
    client = staff_client(user, verified=verified)
    response = client.get(URL)
    assert response.status_code == status
    if status == 302:
        assert "/second-factor/" in response["Location"]


def test_anonymous_is_sent_to_sign_in_and_other_methods_are_refused() -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and "/sign-in/" in response["Location"]
    me = counsellor("me")
    assert me.client.post(URL, {}).status_code == 405

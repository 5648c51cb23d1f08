"""Secrets at rest (issue 14, item 10): a database reader finds no usable session key, no TOTP seed and no
recovery code.

Sessions are stored under a SHA-256 digest of their key; authenticator seeds are sealed with AES-GCM
under a key from settings, bound to their owner; recovery codes are kept as keyed digests, bound to their
owner too. Migrations convert what an older version stored.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from helpline.accounts.actions import confirmed_totp_device, create_staff
from helpline.accounts.roles import COUNSELLOR
from tests.unit.test_accounts_access import PASSWORD, current_code

pytestmark = pytest.mark.usefixtures("clear_lockouts")


def every_stored_text() -> str:
    """Every value of every column of every table, as one text: what a database reader has."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                parts.extend(value.hex() if isinstance(value, bytes | memoryview) else str(value) for value in row)
    return "\n".join(parts)


@contextlib.contextmanager
def stored_as_of(migration: str) -> Iterator[None]:
    """The accounts tables as migration `migration` of the app left them, for the block to store what an
    older version stored; then every migration since runs."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("accounts")
    executor.migrate([("accounts", migration)])
    yield
    MigrationExecutor(connection).migrate(latest)


def signed_in_client(username: str) -> tuple[Client, Any]:
    user, _ = create_staff(username, PASSWORD, [COUNSELLOR], with_totp=True)
    client = Client()
    client.post("/en/staff/sign-in/", {"username": username, "password": PASSWORD})
    response = client.post("/en/staff/sign-in/second-factor/", {"code": current_code(confirmed_totp_device(user))})
    assert response.status_code == 302 and response["Location"] == "/en/staff/"
    return client, user


@pytest.mark.django_db
def test_contract_the_database_holds_no_session_key_a_reader_could_reuse() -> None:
    client, _user = signed_in_client("counsellor")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/en/staff/").status_code == 200
    assert key not in every_stored_text()
    # What the database does hold for the session is no cookie: presented as one, it opens nothing.
    from helpline.accounts.models import StaffSession

    stored = StaffSession.objects.get()
    reader = Client()
    reader.cookies[settings.SESSION_COOKIE_NAME] = str(stored.session_key)
    assert reader.get("/en/staff/").status_code == 302


@pytest.mark.django_db
def test_the_session_store_saves_loads_and_deletes_by_the_key_it_never_stores() -> None:
    from helpline.accounts.models import StaffSession
    from helpline.accounts.sessions import SessionStore

    store = SessionStore()
    store["role"] = "counsellor"
    store.save()
    key = store.session_key
    assert key
    import hashlib

    assert [str(row.session_key) for row in StaffSession.objects.all()] == [hashlib.sha256(key.encode()).hexdigest()]
    assert SessionStore(key).load() == {"role": "counsellor"}
    assert SessionStore().exists(key)
    again = SessionStore(key)
    again["role"] = "supervisor"
    again.save()
    assert SessionStore(key).load() == {"role": "supervisor"} and StaffSession.objects.count() == 1
    SessionStore(key).delete()
    assert StaffSession.objects.count() == 0 and not SessionStore().exists(key)
    store = SessionStore()
    store.create()
    loaded = StaffSession.objects.get()
    loaded.delete()  # a row read back from the database deletes itself (its key is already a digest)
    assert StaffSession.objects.count() == 0


@pytest.mark.django_db
def test_contract_the_database_holds_no_authenticator_seed() -> None:
    _client, user = signed_in_client("counsellor")
    seed = confirmed_totp_device(user).bin_key
    stored = every_stored_text()
    assert seed.hex() not in stored and seed.hex().upper() not in stored
    assert base64.b32encode(seed).decode().rstrip("=") not in stored


@pytest.mark.django_db
def test_a_sealed_seed_moved_to_another_person_opens_for_nobody() -> None:
    from helpline.accounts.seeds import SealedSeedError

    mine, _ = create_staff("mine", PASSWORD, [COUNSELLOR], with_totp=True)
    victim, _ = create_staff("victim", PASSWORD, [COUNSELLOR], with_totp=True)
    my_device, victims_device = confirmed_totp_device(mine), confirmed_totp_device(victim)
    victims_device.sealed_key = my_device.sealed_key  # a database writer who knows their own seed
    victims_device.save()
    with pytest.raises(SealedSeedError):
        _ = confirmed_totp_device(victim).bin_key


@pytest.mark.django_db
def test_another_seed_key_opens_nothing(settings: Any) -> None:
    from helpline.accounts.seeds import SealedSeedError

    user, _ = create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    settings.TOTP_SEED_KEY = "another-key-" + "x" * 50
    with pytest.raises(SealedSeedError, match="TOTP_SEED_KEY"):
        _ = confirmed_totp_device(user).bin_key


@pytest.mark.django_db
def test_codes_are_accepted_and_refused_exactly_as_django_otps_totp_device_does() -> None:
    """Our device reuses TOTPDevice's verification unchanged; this notices if upstream's needs change."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user, _ = create_staff("counsellor", PASSWORD, [COUNSELLOR], with_totp=True)
    ours = confirmed_totp_device(user)
    theirs = TOTPDevice(user=user, name="reference", confirmed=True, key=ours.bin_key.hex())
    theirs.save()
    for offset in (-3, -1, 0, 1, 3):
        code = current_code(ours, offset)
        assert bool(ours.verify_token(code)) == bool(theirs.verify_token(code)), offset
        ours.refresh_from_db()
        theirs.refresh_from_db()
        ours.throttle_reset()
        theirs.throttle_reset()
    assert ours.last_t == theirs.last_t >= 0
    assert ours.config_url == theirs.config_url


# --- the migration converts what an older version stored ---

@pytest.mark.django_db(transaction=True)
def test_migration_hashes_existing_sessions_and_seals_existing_seeds() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore as ClearSessionStore
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from helpline.accounts.models import SealedTOTPDevice, StaffSession
    from helpline.accounts.sessions import SessionStore

    with stored_as_of("0002_enrolment_invitation"):
        user = get_user_model().objects.create(username="veteran")
        seed = bytes(range(20))
        old_device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True, key=seed.hex(),
                                               last_t=123)
        old_session = ClearSessionStore()
        old_session["_auth_user_id"] = str(user.pk)
        old_session[DEVICE_ID_SESSION_KEY] = old_device.persistent_id
        old_session.save()
        key = old_session.session_key
        assert key

    assert not TOTPDevice.objects.exists()
    device = SealedTOTPDevice.objects.get(user=user)
    assert device.bin_key == seed and device.confirmed and device.last_t == 123
    assert seed.hex() not in every_stored_text()
    assert key not in every_stored_text()
    from django.contrib.sessions.models import Session

    assert not Session.objects.exists() and StaffSession.objects.count() == 1
    carried = SessionStore(key).load()
    assert carried["_auth_user_id"] == str(user.pk)
    # Still signed in with the second factor: the session names the same authenticator, now sealed.
    assert carried[DEVICE_ID_SESSION_KEY] == device.persistent_id
    totp = TOTP(seed, 30, 0, 6, 0)
    assert device.verify_token(f"{totp.token():06d}")


@pytest.mark.django_db
def test_the_admin_sites_own_sign_in_verifies_a_sealed_authenticator() -> None:
    from helpline.accounts.roles import ADMIN

    user, _ = create_staff("boss", PASSWORD, [ADMIN], with_totp=True)
    device = confirmed_totp_device(user)
    client = Client()
    response = client.post("/en/staff/admin/login/?next=/en/staff/admin/",
                           {"username": "boss", "password": PASSWORD, "otp_device": device.persistent_id,
                            "otp_token": current_code(device), "next": "/en/staff/admin/"})
    assert response.status_code == 302, response.context["form"].errors
    assert client.get("/en/staff/admin/").status_code == 200


@pytest.mark.django_db
def test_contract_the_database_holds_no_recovery_code() -> None:
    from helpline.accounts.actions import confirm_totp_and_issue_recovery_codes, verify_second_factor

    user, _ = create_staff("keeper", PASSWORD, [COUNSELLOR], with_totp=True)
    device = confirmed_totp_device(user)
    assert device is not None
    codes = confirm_totp_and_issue_recovery_codes(device)
    stored = every_stored_text()
    assert len(set(codes)) == 10 and not any(code in stored for code in codes)
    # As typed from a printout: in capitals, in two groups. Once only.
    typed = f"{codes[3][:4].upper()} {codes[3][4:].upper()}"
    assert verify_second_factor(user, typed) is not None
    assert verify_second_factor(user, codes[3]) is None


@pytest.mark.django_db
def test_a_recovery_code_moved_to_another_person_lets_nobody_in() -> None:
    from django_otp.plugins.otp_static.models import StaticToken

    from helpline.accounts.actions import confirm_totp_and_issue_recovery_codes, verify_second_factor
    from helpline.accounts.models import RecoveryCodes

    writer, _ = create_staff("writer", PASSWORD, [COUNSELLOR], with_totp=True)
    victim, _ = create_staff("victim", PASSWORD, [COUNSELLOR], with_totp=True)
    codes = confirm_totp_and_issue_recovery_codes(confirmed_totp_device(writer))  # type: ignore[arg-type]
    confirm_totp_and_issue_recovery_codes(confirmed_totp_device(victim))  # type: ignore[arg-type]
    # Someone who can write to the database copies their own digests onto the victim's recovery device.
    victims = RecoveryCodes.objects.get(user=victim)
    for token in StaticToken.objects.filter(device__user=writer):
        StaticToken.objects.create(device=victims, token=token.token)
    assert all(verify_second_factor(victim, code) is None for code in codes)


@pytest.mark.django_db(transaction=True)
def test_migration_replaces_recovery_codes_kept_in_clear_with_their_digests() -> None:
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    from helpline.accounts.actions import verify_second_factor

    with stored_as_of("0003_sealed_seeds_and_hashed_sessions"):
        user = get_user_model().objects.create(username="old-codes")
        device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(3)]
        for code in codes:
            StaticToken.objects.create(device=device, token=code)

    assert not any(code in every_stored_text() for code in codes)
    assert verify_second_factor(user, codes[1]) is not None
    assert verify_second_factor(user, codes[1]) is None, "still used once only"
    assert StaticToken.objects.filter(device__user=user).count() == 2


@pytest.mark.django_db
def test_the_admin_sites_own_sign_in_takes_a_recovery_code_once() -> None:
    from helpline.accounts.actions import confirm_totp_and_issue_recovery_codes
    from helpline.accounts.admin import AdminSignInForm
    from helpline.accounts.roles import ADMIN

    user, _ = create_staff("lost-phone", PASSWORD, [ADMIN], with_totp=True)
    codes = confirm_totp_and_issue_recovery_codes(confirmed_totp_device(user))  # type: ignore[arg-type]
    offered = [value for value, name in AdminSignInForm.device_choices(user) if name == "recovery"]
    assert offered and offered[0].startswith("accounts.recoverycodes/")
    for attempt, expected in ((1, 302), (2, 200)):
        client = Client()
        response = client.post("/en/staff/admin/login/?next=/en/staff/admin/",
                               {"username": "lost-phone", "password": PASSWORD, "otp_device": offered[0],
                                "otp_token": codes[0], "next": "/en/staff/admin/"})
        assert response.status_code == expected, attempt
    assert client.get("/en/staff/admin/").status_code == 302, "the used code let nobody in the second time"

"""Every cell of the authorisation table in docs/security.md holds for the running application."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from helpline.accounts.actions import create_staff
from helpline.accounts.models import SealedTOTPDevice

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "security.md"
ROLES = ["anonymous", "unverified", "counsellor", "supervisor", "programme_manager", "admin"]


def matrix_rows() -> list[tuple[str, str, dict[str, str]]]:
    text = DOC.read_text()
    table = text.split("<!-- matrix:start -->")[1].split("<!-- matrix:end -->")[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        method, path = cells[0].split(" ", 1)
        rows.append((method, path, dict(zip(ROLES, cells[1:], strict=True))))
    return rows


ROWS = matrix_rows()


def client_for(role: str) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    user, _ = create_staff(f"matrix-{role}", "matrix-password-123", [role if role != "unverified" else "admin"],
                           with_totp=True)
    client.force_login(user)
    if role != "unverified":
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = SealedTOTPDevice.objects.get(user=user).persistent_id
        session.save()
    return client


def outcome(response) -> str:  # type: ignore[no-untyped-def]
    if response.status_code == 200:
        return "ok"
    if response.status_code in (400, 403):
        return str(response.status_code)
    if response.status_code == 302:
        location = response["Location"]
        if "/admin/login/" in location:
            return "admin-sign-in"
        if "/second-factor/" in location:
            return "2fa"
        if "/sign-in/" in location:
            return "sign-in"
    return f"unexpected {response.status_code}"


def test_the_table_covers_every_role_and_is_not_empty() -> None:
    assert len(ROWS) >= 10
    assert all(set(expected) == set(ROLES) for _m, _p, expected in ROWS)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_contract_authorisation_matrix(role: str) -> None:
    client = client_for(role)
    mismatches = []
    for method, path, expected in ROWS:
        response = client.generic(method, path)
        if outcome(response) != expected[role]:
            mismatches.append(f"{method} {path}: expected {expected[role]}, got {outcome(response)}")
    assert not mismatches, "\n".join(mismatches)


def test_every_staff_url_is_in_the_table() -> None:
    from django.urls import get_resolver

    def walk(patterns, prefix=""):  # type: ignore[no-untyped-def]
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route

    documented = {re.sub(r"^/(en|nl)/", "", path) for _m, path, _e in ROWS}
    staff_routes = {re.sub(r"^(en|nl)/", "", route.lstrip("^").replace("\\Z", ""))
                    for route in walk(get_resolver().url_patterns)}
    staff_pages = {r for r in staff_routes if r.startswith("staff/") and "<" not in r and "admin/" not in r
                   and "sign-out" not in r and not r.endswith("new/") and "second-factor" not in r}
    assert "staff/stats/" in staff_pages, "the walk over the URL map found the staff pages"
    missing = sorted(page for page in staff_pages if page not in documented)
    assert not missing, f"staff pages missing from docs/security.md: {missing}"

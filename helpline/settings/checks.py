"""The rules that decide whether a production configuration is safe to start, as a plain function."""

from __future__ import annotations

import base64
import binascii

MIN_SECRET_LENGTH = 50
DEV_SECRET_MARKERS = ("django-insecure", "change-me", "changeme", "secret")


def _decodes_to_p256_point(value: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 65 and raw[0] == 0x04


def production_problems(
    *,
    debug: bool,
    secret_key: str,
    allowed_hosts: list[str],
    org_public_key: str,
    allowed_hosts_from_env: bool,
    totp_seed_key: str,
) -> list[str]:
    """Every reason this configuration must not run in production; empty when it may."""
    problems: list[str] = []
    if debug:
        problems.append("HELPLINE_DEBUG is on; debug pages show request headers")
    if not secret_key:
        problems.append("HELPLINE_SECRET_KEY is not set")
    elif len(secret_key) < MIN_SECRET_LENGTH or secret_key.lower().startswith(DEV_SECRET_MARKERS):
        problems.append(f"HELPLINE_SECRET_KEY is a default or shorter than {MIN_SECRET_LENGTH} characters")
    if not totp_seed_key:
        problems.append("HELPLINE_TOTP_SEED_KEY is not set; it seals the staff authenticator seeds")
    elif len(totp_seed_key) < MIN_SECRET_LENGTH or totp_seed_key.lower().startswith(DEV_SECRET_MARKERS):
        problems.append(f"HELPLINE_TOTP_SEED_KEY is a default or shorter than {MIN_SECRET_LENGTH} characters")
    elif totp_seed_key == secret_key:
        problems.append("HELPLINE_TOTP_SEED_KEY must differ from HELPLINE_SECRET_KEY")
    if not allowed_hosts_from_env or not allowed_hosts:
        problems.append("HELPLINE_ALLOWED_HOSTS is empty; name the host names this service answers to")
    elif "*" in allowed_hosts:
        problems.append("HELPLINE_ALLOWED_HOSTS contains '*'")
    if not org_public_key:
        problems.append("HELPLINE_ORG_PUBLIC_KEY is not set; make one with `manage.py create_org_key`")
    elif not _decodes_to_p256_point(org_public_key):
        problems.append("HELPLINE_ORG_PUBLIC_KEY is not a base64url uncompressed P-256 public key")
    return problems

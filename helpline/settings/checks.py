"""The rules that decide whether a production configuration is safe to start: a plain function, and the
Django system check and start-up guard that apply it (prod.py sets PRODUCTION).

`manage.py check` (and every management command, migrate included) lists each problem as an error;
`python -m helpline.serve` imports helpline.asgi, which calls `refuse_unsafe_production` before it serves.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

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
    totp_seed_key: str,
    database_url: str,
    redis_url: str,
    processes: int,
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
    if not allowed_hosts:
        problems.append("HELPLINE_ALLOWED_HOSTS is empty; name the host names this service answers to")
    elif "*" in allowed_hosts:
        problems.append("HELPLINE_ALLOWED_HOSTS contains '*'")
    if not org_public_key:
        problems.append("HELPLINE_ORG_PUBLIC_KEY is not set; make one with `manage.py create_org_key`")
    elif not _decodes_to_p256_point(org_public_key):
        problems.append("HELPLINE_ORG_PUBLIC_KEY is not a base64url uncompressed P-256 public key")
    if not database_url:
        # Without it the server would quietly make an SQLite file in HELPLINE_VAR_DIR.
        problems.append("HELPLINE_DATABASE_URL is not set; production keeps its data in PostgreSQL")
    if processes > 1 and not redis_url:
        # Without Redis each process has its own channel layer and cache: a chat cannot cross processes,
        # and each process's sweep deletes the other's counsellor presence rows as left over from a restart.
        problems.append(f"HELPLINE_REDIS_URL is not set while HELPLINE_PROCESSES is {processes}; "
                        "processes share chats only through Redis (or set HELPLINE_PROCESSES=1)")
    return problems


def problems_in(settings: Any) -> list[str]:
    """The rules applied to Django's settings; none unless they are production's."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    return production_problems(debug=settings.DEBUG, secret_key=settings.SECRET_KEY,
                               allowed_hosts=list(settings.ALLOWED_HOSTS), org_public_key=settings.ORG_PUBLIC_KEY,
                               totp_seed_key=settings.TOTP_SEED_KEY, database_url=settings.DATABASE_URL,
                               redis_url=settings.REDIS_URL, processes=settings.SERVER_PROCESSES)


@checks.register(checks.Tags.security)
def check_production_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    return [checks.Error(f"Refusing to start in production: {problem}", hint="see docs/operations.md",
                         id="helpline.E001")
            for problem in problems_in(settings)]


def refuse_unsafe_production() -> None:
    """Raise before serving anything if the production configuration is unsafe (the server's start)."""
    from django.conf import settings

    problems = problems_in(settings)
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))

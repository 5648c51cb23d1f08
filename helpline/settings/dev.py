"""The embedded default: SQLite, in-memory channel layer, one Daphne process, demo keys."""

from __future__ import annotations

import secrets
from pathlib import Path

from chat.org_key import read_demo_public_key
from helpline.settings.base import *  # noqa: F403
from helpline.settings.base import ORG_PUBLIC_KEY, SECRET_KEY, TOTP_SEED_KEY, VAR_DIR
from helpline.settings.env import env_bool


def _read_or_create_secret(path: Path) -> str:
    """A per-installation secret made on first start, so no default secret ever exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if not SECRET_KEY:
    SECRET_KEY = _read_or_create_secret(VAR_DIR / "secret_key")
if not TOTP_SEED_KEY:
    TOTP_SEED_KEY = _read_or_create_secret(VAR_DIR / "totp_seed_key")

# The demo organisation key made by `manage.py demo_setup`; production sets HELPLINE_ORG_PUBLIC_KEY.
if not ORG_PUBLIC_KEY:
    ORG_PUBLIC_KEY = read_demo_public_key(VAR_DIR)

# `make run` collects static files here at start (helpline/embedded.py); whitenoise serves them, so the
# files stay this user's only, like everything in var/.
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
STORAGES = {**STORAGES, "staticfiles": {**STORAGES["staticfiles"], "OPTIONS": {  # noqa: F405
    "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}}}

# Demo only: a counsellor device registered here is certified at once with the demo organisation key
# (VAR_DIR/org_private_key.pem). Production and the scaled mode certify with `manage.py certify_device`.
DEMO_AUTOCERTIFY = env_bool("HELPLINE_DEMO_AUTOCERTIFY", True)

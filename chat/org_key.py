"""The organisation's public key as this server knows it, read in one place.

Production sets HELPLINE_ORG_PUBLIC_KEY. The embedded default's demo key is made by `manage.py demo_setup`
into VAR_DIR, possibly after settings have loaded (the first `make run`), so it is read from there when
settings have none. Nothing here imports Django models: settings (dev.py) use it too.
"""

from __future__ import annotations

from pathlib import Path

DEMO_PUBLIC_KEY_FILE = "org_public_key.txt"


def read_demo_public_key(var_dir: Path | str) -> str:
    """The demo organisation key that `demo_setup` wrote into `var_dir`; empty if there is none."""
    path = Path(var_dir) / DEMO_PUBLIC_KEY_FILE
    return path.read_text().strip() if path.exists() else ""


def org_public_key() -> str:
    """The key visitors pin (base64url P-256 point): from settings, else the demo key; empty if neither."""
    from django.conf import settings

    return str(settings.ORG_PUBLIC_KEY or "") or read_demo_public_key(settings.VAR_DIR)


def org_public_key_bytes() -> bytes | None:
    """The key as its 65 bytes, or None when there is none or it is not base64url."""
    from chat.protocol.crypto import b64d

    text = org_public_key()
    try:
        return b64d(text) if text else None
    except ValueError:
        return None

"""The organisation key is read in one place (chat.org_key): settings first, else the embedded default's
demo key file, which `demo_setup` may write after settings have loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chat.org_key import DEMO_PUBLIC_KEY_FILE, org_public_key, org_public_key_bytes, read_demo_public_key
from chat.protocol.crypto import b64e, generate_private_key, public_key_bytes


def a_key() -> str:
    return b64e(public_key_bytes(generate_private_key()))


def test_settings_come_first(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.ORG_PUBLIC_KEY = from_settings = a_key()
    (tmp_path / DEMO_PUBLIC_KEY_FILE).write_text(a_key() + "\n")
    assert org_public_key() == from_settings


def test_the_demo_key_file_stands_in_when_settings_have_none(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.ORG_PUBLIC_KEY = ""
    assert org_public_key() == "" and org_public_key_bytes() is None
    demo = a_key()
    (tmp_path / DEMO_PUBLIC_KEY_FILE).write_text(demo + "\n")  # written later, as the first `make run` does
    assert read_demo_public_key(tmp_path) == org_public_key() == demo
    assert org_public_key_bytes() is not None and len(org_public_key_bytes() or b"") == 65


def test_a_key_that_is_not_base64url_reads_as_none(settings: Any) -> None:
    settings.ORG_PUBLIC_KEY = "not base64!"
    assert org_public_key_bytes() is None

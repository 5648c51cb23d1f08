"""Authenticator seeds at rest: sealed with AES-GCM under a key derived from settings.TOTP_SEED_KEY.

A database reader (a backup, a stolen disk) then cannot make anyone's codes. Each seed is bound to its
owner, so a database writer cannot move their own known seed onto someone else's account either.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"
NONCE_BYTES = 12


class SealedSeedError(Exception):
    """A sealed seed that does not open: another TOTP_SEED_KEY, or a seed moved to another person."""


@functools.cache
def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpline totp seed v1").derive(secret.encode())
    return AESGCM(key)


def _current_cipher() -> AESGCM:
    secret = getattr(settings, "TOTP_SEED_KEY", "")
    if not secret:
        raise ImproperlyConfigured("TOTP_SEED_KEY is not set (HELPLINE_TOTP_SEED_KEY)")
    return _cipher(secret)


def _owner(user_id: int) -> bytes:
    return f"helpline totp seed of user {user_id}".encode()


def seal_seed(seed: bytes, user_id: int) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + _current_cipher().encrypt(nonce, seed, _owner(user_id))
    return f"{VERSION}:{base64.urlsafe_b64encode(sealed).decode()}"


def open_seed(sealed: str, user_id: int) -> bytes:
    version, _colon, body = sealed.partition(":")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if version != VERSION or len(raw) <= NONCE_BYTES:
        raise SealedSeedError("not a sealed authenticator seed")
    try:
        return _current_cipher().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _owner(user_id))
    except InvalidTag:
        raise SealedSeedError("this authenticator seed does not open: TOTP_SEED_KEY (HELPLINE_TOTP_SEED_KEY) "
                              "is not the one it was sealed with, or the seed belongs to someone else") from None

"""Second factors at rest, under keys derived from settings.TOTP_SEED_KEY: authenticator seeds sealed with
AES-GCM, recovery codes kept only as keyed digests.

A database reader (a backup, a stolen disk) then cannot make anyone's codes, nor read their recovery codes.
Each seed and each digest is bound to its owner, so a database writer cannot move their own known seed or
recovery code onto someone else's account either.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"
NONCE_BYTES = 12
# django-otp's StaticToken keeps 16 characters: 64 bits of HMAC-SHA256, for codes of 40 random bits that a
# guesser online is throttled on, and that offline needs the key, which is not in the database.
RECOVERY_DIGEST_CHARS = 16


class SealedSeedError(Exception):
    """A sealed seed that does not open: another TOTP_SEED_KEY, or a seed moved to another person."""


@functools.cache
def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpline totp seed v1").derive(secret.encode())
    return AESGCM(key)


def _secret() -> str:
    secret: str = getattr(settings, "TOTP_SEED_KEY", "")
    if not secret:
        raise ImproperlyConfigured("TOTP_SEED_KEY is not set (HELPLINE_TOTP_SEED_KEY)")
    return secret


def _current_cipher() -> AESGCM:
    return _cipher(_secret())


@functools.cache
def _recovery_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpline recovery code v1").derive(
        secret.encode())


def recovery_code_digest(code: str, user_id: int) -> str:
    """What a recovery code is kept as: HMAC-SHA256 over its owner and the code (spaces dropped, any case),
    under a key derived from TOTP_SEED_KEY, as 16 hex characters. The code itself is shown once and kept
    nowhere."""
    typed = code.replace(" ", "").lower()
    mac = hmac.new(_recovery_key(_secret()), f"{user_id}:{typed}".encode(), hashlib.sha256)
    return mac.hexdigest()[:RECOVERY_DIGEST_CHARS]


def is_recovery_code_digest(stored: str) -> bool:
    """A stored token that is a digest (16 hex characters), not a code kept in clear (django-otp's: 8 base32)."""
    return len(stored) == RECOVERY_DIGEST_CHARS and all(char in "0123456789abcdef" for char in stored)


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

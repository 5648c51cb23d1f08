"""Short-lived, MAC-protected, single-use tokens: proof-of-work challenges and visitor feedback tokens.

A token is b64 of `random 16 bytes ‖ expiry (uint64, Unix seconds) ‖ HMAC-SHA256(key, both)[:16]`, the key
derived from SECRET_KEY and the token's purpose. Nothing is stored until a token is used; then a hash of its
random part is kept (chat.models.UsedToken) until it expires, so it is good once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import struct
import time
from typing import Final

from django.conf import settings
from django.db import IntegrityError, transaction

from chat.protocol.crypto import b64d, b64e

MAC_BYTES: Final = 16
TOKEN_BYTES: Final = 16 + 8 + MAC_BYTES


def _mac(purpose: str, body: bytes) -> bytes:
    key = hashlib.sha256(f"helpline-token-v1\n{purpose}\n".encode() + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, body, hashlib.sha256).digest()[:MAC_BYTES]


def make_token(purpose: str, seconds: int, now: float | None = None) -> str:
    """A fresh token for `purpose`, good for `seconds`."""
    expiry = int(now if now is not None else time.time()) + seconds
    body = secrets.token_bytes(16) + struct.pack(">Q", expiry)
    return b64e(body + _mac(purpose, body))


def token_expiry(purpose: str, token: str) -> int | None:
    """The expiry of an authentic token for `purpose`, or None if we did not make it."""
    try:
        raw = b64d(token)
    except ValueError:
        return None
    if len(raw) != TOKEN_BYTES:
        return None
    body, mac = raw[:24], raw[24:]
    if not hmac.compare_digest(mac, _mac(purpose, body)):
        return None
    (expiry,) = struct.unpack(">Q", body[16:24])
    return int(expiry)


def is_fresh(purpose: str, token: str, now: float | None = None) -> bool:
    """Authentic and unexpired (does not use the token up)."""
    expiry = token_expiry(purpose, token)
    return expiry is not None and expiry > (now if now is not None else time.time())


def use_once(purpose: str, token: str, now: float | None = None) -> bool:
    """True the first time an authentic, unexpired token is used; False ever after (restarts included)."""
    from chat.models import UsedToken

    moment = now if now is not None else time.time()
    expiry = token_expiry(purpose, token)
    if expiry is None or expiry <= moment:
        return False
    marker = hashlib.sha256(f"{purpose}\n{token[:22]}".encode("ascii")).hexdigest()
    hour = dt.datetime.fromtimestamp(expiry - expiry % 3600 + 3600, dt.UTC)
    # The primary key makes the first use the only one, also between processes.
    try:
        with transaction.atomic():
            UsedToken.objects.create(marker=marker, expires_hour=hour)
    except IntegrityError:
        return False
    return True


def forget_expired(moment: dt.datetime) -> int:
    """Drop markers of tokens that have expired anyway; returns how many."""
    from chat.models import UsedToken

    deleted, _ = UsedToken.objects.filter(expires_hour__lt=moment).delete()
    return deleted

"""The mailbox's JSON shapes (docs/mailbox.md §6): one strict parser per shape, and the builder clients use.

The server parses every body with these functions before it writes anything, so a malformed or oversized
envelope is refused whole. Signatures are checked by the caller, which knows whose key applies.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from chat.protocol.crypto import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, b64d, load_public_key
from securemessages.crypto import (
    CONTENT_KEY_BYTES,
    ENVELOPE_VERSION,
    MAILBOX_RECIPIENT,
    MAX_CT_CHARS,
    VISITOR,
    WRAPPED_KEY_BYTES,
    EnvelopeError,
    Wrap,
    check_ct_length,
    check_recipient,
    check_sender,
    new_message_id,
    seal_body,
    sign_message,
    wrap_content_key,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_RECIPIENTS",
    "Envelope",
    "NewThread",
    "build_envelope",
    "parse_access",
    "parse_envelope",
    "parse_new_thread",
    "parse_pow",
    "parse_wraps",
]

MAX_RECIPIENTS: Final = 64
# The largest envelope (16 KiB of text, 64 recipients) is about 35 KB of JSON; a request may carry one.
MAX_BODY_BYTES: Final = 48 * 1024
LANGS: Final = ("en", "nl")
ENVELOPE_FIELDS: Final = frozenset({"v", "id", "from", "ct", "sig", "keys"})
WRAP_FIELDS: Final = frozenset({"epk", "wk"})
NEW_THREAD_FIELDS: Final = frozenset({"v", "thread", "access", "lang", "mk", "sk", "msg", "pow"})
POW_FIELDS: Final = frozenset({"challenge", "nonce"})


@dataclass(frozen=True)
class Envelope:
    """A parsed message envelope: who sent it, the sealed body, the sender's signature, and the key wraps."""

    id: str
    sender: str
    ct: str
    sig: str
    keys: dict[str, Wrap]

    @property
    def ct_bytes(self) -> int:
        return len(self.ct)


@dataclass(frozen=True)
class NewThread:
    thread: str
    access: bytes
    lang: str
    mk: str
    sk: str
    message: Envelope
    pow: dict[str, str]


def _exact_fields(data: object, fields: frozenset[str], what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise EnvelopeError(f"{what} must be a JSON object")
    if set(data) != fields:
        raise EnvelopeError(f"{what} must have exactly {', '.join(sorted(fields))}")
    return data


def _string(value: object, what: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise EnvelopeError(f"{what} must be a string of 1 to {max_chars} characters")
    return value


def _b64_bytes(value: object, what: str, length: int) -> bytes:
    text = _string(value, what, (length * 4 + 2) // 3)
    try:
        raw = b64d(text)
    except ValueError as error:
        raise EnvelopeError(f"{what} is not canonical base64url") from error
    if len(raw) != length:
        raise EnvelopeError(f"{what} must be b64 of {length} bytes")
    return raw


def _point(value: object, what: str) -> str:
    raw = _b64_bytes(value, what, PUBLIC_KEY_BYTES)
    try:
        load_public_key(raw)
    except ValueError as error:
        raise EnvelopeError(f"{what} is not a P-256 point") from error
    return str(value)


def _version(value: object) -> None:
    if type(value) is not int or value != ENVELOPE_VERSION:
        raise EnvelopeError("v must be the integer 1")


def parse_wraps(data: object, what: str = "keys") -> dict[str, Wrap]:
    """``{recipient: {epk, wk}}``: 1 to 64 recipients, each ``mailbox`` or a device id."""
    if not isinstance(data, dict) or not 1 <= len(data) <= MAX_RECIPIENTS:
        raise EnvelopeError(f"{what} must be an object of 1 to {MAX_RECIPIENTS} recipients")
    wraps: dict[str, Wrap] = {}
    for recipient, wrap in data.items():
        try:
            check_recipient(recipient)
        except (EnvelopeError, ValueError) as error:
            raise EnvelopeError(f"{what} has a recipient that is neither mailbox nor a device id") from error
        fields = _exact_fields(wrap, WRAP_FIELDS, f"{what}.{recipient}")
        _b64_bytes(fields["wk"], "wk", WRAPPED_KEY_BYTES)
        wraps[recipient] = Wrap(epk=_point(fields["epk"], "epk"), wk=str(fields["wk"]))
    return wraps


def parse_envelope(data: object) -> Envelope:
    """A message envelope ``{v, id, from, ct, sig, keys}``, every field checked for shape and size."""
    fields = _exact_fields(data, ENVELOPE_FIELDS, "msg")
    _version(fields["v"])
    _b64_bytes(fields["id"], "id", 16)
    sender = _string(fields["from"], "from", 22)
    try:
        check_sender(sender)
    except (EnvelopeError, ValueError) as error:
        raise EnvelopeError("from must be visitor or a device id") from error
    ct = _string(fields["ct"], "ct", MAX_CT_CHARS)
    try:
        check_ct_length(b64d(ct))
    except ValueError as error:
        raise EnvelopeError("ct is not a sealed, padded body") from error
    _b64_bytes(fields["sig"], "sig", SIGNATURE_BYTES)
    keys = parse_wraps(fields["keys"])
    if MAILBOX_RECIPIENT not in keys or len(keys) < 2:
        raise EnvelopeError("keys must include the mailbox and at least one counsellor device")
    return Envelope(id=str(fields["id"]), sender=sender, ct=ct, sig=str(fields["sig"]), keys=keys)


def parse_pow(data: object) -> dict[str, str]:
    fields = _exact_fields(data, POW_FIELDS, "pow")
    challenge = _string(fields["challenge"], "pow.challenge", 64)
    nonce = _string(fields["nonce"], "pow.nonce", 43)
    try:
        b64d(challenge)
        b64d(nonce)
    except ValueError as error:
        raise EnvelopeError("pow is not base64url") from error
    return {"challenge": challenge, "nonce": nonce}


def parse_access(value: object) -> bytes:
    """The access secret: b64 of 32 bytes."""
    return _b64_bytes(value, "access", 32)


def parse_new_thread(data: object) -> NewThread:
    """``{v, thread, access, lang, mk, sk, msg, pow}``: a new thread and its first message, from the visitor."""
    fields = _exact_fields(data, NEW_THREAD_FIELDS, "the new thread")
    _version(fields["v"])
    _b64_bytes(fields["thread"], "thread", 16)
    if fields["lang"] not in LANGS:
        raise EnvelopeError("lang must be en or nl")
    message = parse_envelope(fields["msg"])
    if message.sender != VISITOR:
        raise EnvelopeError("a thread starts with a message from the visitor")
    return NewThread(thread=str(fields["thread"]), access=parse_access(fields["access"]), lang=str(fields["lang"]),
                     mk=_point(fields["mk"], "mk"), sk=_point(fields["sk"], "sk"), message=message,
                     pow=parse_pow(fields["pow"]))


def build_envelope(thread: str, sender: str, signing_key: ec.EllipticCurvePrivateKey, message: Mapping[str, Any],
                   recipients: Mapping[str, bytes], message_id: str | None = None) -> dict[str, Any]:
    """Seal ``message`` for ``recipients`` (``{"mailbox" or device id: 65-byte ECDH point}``) and sign it."""
    message_id = message_id or new_message_id()
    content_key = secrets.token_bytes(CONTENT_KEY_BYTES)
    ct = seal_body(content_key, thread, message_id, sender, message)
    keys = {name: wrap_content_key(content_key, point, thread, message_id, name).as_json()
            for name, point in recipients.items()}
    return {"v": ENVELOPE_VERSION, "id": message_id, "from": sender, "ct": ct,
            "sig": sign_message(signing_key, thread, message_id, sender, ct), "keys": keys}

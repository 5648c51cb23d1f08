"""Mailbox v1 cryptography (docs/mailbox.md): codename keys, sealed envelopes, key wraps, device encryption keys.

The Python half of the mailbox; the browser half is ``securemessages/static/securemessages/mailbox.js``. Both
reproduce ``docs/mailbox-vectors.json``. Encodings, padding, certificates and signatures are the chat's
(``chat.protocol.crypto``), imported, never copied. No Django import: the server, the Python client and
tools all use this module.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chat.protocol.crypto import (
    MAX_PLAINTEXT_BYTES,
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    b64d,
    b64e,
    ecdh_shared_secret,
    encode_message,
    generate_private_key,
    join_fields,
    load_public_key,
    pad,
    padded_length,
    public_key_bytes,
    sign_raw,
    unpad,
    verify_raw,
)

__all__ = [
    "CODENAME_WORDS",
    "CONTENT_KEY_BYTES",
    "ENVELOPE_VERSION",
    "MAILBOX_RECIPIENT",
    "MAX_CT_CHARS",
    "MIN_CT_BYTES",
    "PBKDF2_ITERATIONS",
    "VISITOR",
    "CodenameKeys",
    "EnvelopeError",
    "Wrap",
    "body_aad",
    "check_ct_length",
    "check_recipient",
    "check_sender",
    "derive_codename_keys",
    "ek_binding_tbs",
    "make_codename",
    "message_tbs",
    "new_message_id",
    "normalise_codename",
    "open_body",
    "scalar_from_bytes",
    "seal_body",
    "sign_ek_binding",
    "sign_message",
    "unwrap_content_key",
    "verify_ek_binding",
    "verify_message",
    "wrap_content_key",
]

LABEL: Final = "helpline-mailbox-v1"
BODY_AAD_LABEL: Final = "helpline-mailbox-body-v1"
MESSAGE_TBS_LABEL: Final = "helpline-mailbox-msg-v1"
EK_TBS_LABEL: Final = "helpline-mailbox-ek-v1"

ENVELOPE_VERSION: Final = 1
CODENAME_WORDS: Final = 8
PBKDF2_ITERATIONS: Final = 600_000
SEED_BYTES: Final = 32
THREAD_ID_BYTES: Final = 16
ACCESS_BYTES: Final = 32
SCALAR_SOURCE_BYTES: Final = 48
MESSAGE_ID_BYTES: Final = 16
CONTENT_KEY_BYTES: Final = 32
GCM_TAG_BYTES: Final = 16
WRAPPED_KEY_BYTES: Final = CONTENT_KEY_BYTES + GCM_TAG_BYTES
ZERO_NONCE: Final = bytes(12)
# The sealed body: one padded block at least, at most the chat's 16 KiB plaintext padded, plus the tag.
MIN_CT_BYTES: Final = 256 + GCM_TAG_BYTES
MAX_CT_BYTES: Final = padded_length(MAX_PLAINTEXT_BYTES) + GCM_TAG_BYTES
MAX_CT_CHARS: Final = (MAX_CT_BYTES * 4 + 2) // 3

VISITOR: Final = "visitor"
MAILBOX_RECIPIENT: Final = "mailbox"

# P-256's group order n.
P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_WORD = re.compile(r"[a-z]+")


class EnvelopeError(ValueError):
    """Something in a mailbox envelope is not what docs/mailbox.md allows; the message is for a log."""


# --- The codename ----------------------------------------------------------------------------------


def make_codename(words: Sequence[str], count: int = CODENAME_WORDS) -> str:
    """``count`` words drawn uniformly (secrets.choice) from ``words``, joined by single spaces."""
    if len(set(words)) != len(words) or not words:
        raise ValueError("the wordlist must be non-empty and have no repeated word")
    return " ".join(secrets.choice(words) for _ in range(count))


def normalise_codename(text: str) -> str:
    """The codename as the key derivation reads it: its runs of ASCII letters, lowercased, one space between.

    Anything else (spaces, hyphens, dots, line breaks, letters outside a–z) separates words, so
    "Tafel-Fiets  molen" and "tafel fiets molen" are one codename.
    """
    return " ".join(_WORD.findall(text.lower() if text.isascii() else _ascii_lower(text)))


def _ascii_lower(text: str) -> str:
    # str.lower would also fold letters outside ASCII (e.g. "İ" to "i̇"), which JavaScript's
    # toLowerCase does differently; only A–Z are folded, as the browser does.
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)


@dataclass(frozen=True, repr=False)
class CodenameKeys:
    """Everything a codename opens (docs/mailbox.md §2)."""

    seed: bytes
    thread: str
    access: bytes
    box_private: ec.EllipticCurvePrivateKey
    sign_private: ec.EllipticCurvePrivateKey

    @property
    def access_b64(self) -> str:
        return b64e(self.access)

    @property
    def access_hash(self) -> str:
        """What the server keeps: SHA-256 of the access secret, hex."""
        return hashlib.sha256(self.access).hexdigest()

    @property
    def mk(self) -> str:
        """The mailbox's ECDH public key, b64 of the 65-byte point."""
        return b64e(public_key_bytes(self.box_private))

    @property
    def sk(self) -> str:
        """The visitor's ECDSA public key for this thread, b64 of the 65-byte point."""
        return b64e(public_key_bytes(self.sign_private))

    def __repr__(self) -> str:
        return f"CodenameKeys(thread={self.thread!r}, keys=<hidden>)"


def _hkdf(secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def scalar_from_bytes(source: bytes) -> int:
    """A P-256 private scalar from 48 uniform bytes: (OS2IP(bytes) mod (n − 1)) + 1, bias below 2**-128."""
    if len(source) != SCALAR_SOURCE_BYTES:
        raise ValueError("a scalar is made from 48 bytes")
    return int.from_bytes(source, "big") % (P256_ORDER - 1) + 1


def derive_codename_keys(codename: str, iterations: int = PBKDF2_ITERATIONS) -> CodenameKeys:
    """PBKDF2-SHA-256 of the normalised codename, then HKDF for the thread id, access secret and both keys.

    ``iterations`` other than the protocol's 600 000 are for tests that need many derivations only.
    """
    normalised = normalise_codename(codename)
    if not normalised:
        raise ValueError("the codename has no words")
    seed = hashlib.pbkdf2_hmac("sha256", normalised.encode("ascii"), LABEL.encode("ascii"), iterations, SEED_BYTES)

    def part(label: str, length: int) -> bytes:
        return _hkdf(seed, b"", join_fields(LABEL, label), length)

    return CodenameKeys(
        seed=seed,
        thread=b64e(part("thread", THREAD_ID_BYTES)),
        access=part("access", ACCESS_BYTES),
        box_private=ec.derive_private_key(scalar_from_bytes(part("box", SCALAR_SOURCE_BYTES)), ec.SECP256R1()),
        sign_private=ec.derive_private_key(scalar_from_bytes(part("sign", SCALAR_SOURCE_BYTES)), ec.SECP256R1()),
    )


# --- Sealing a message's body ----------------------------------------------------------------------


def new_message_id() -> str:
    return b64e(secrets.token_bytes(MESSAGE_ID_BYTES))


def _check_id(value: str, what: str) -> str:
    # Thread, message and device ids are all b64 of 16 bytes.
    try:
        raw = b64d(value)
    except ValueError as error:
        raise EnvelopeError(f"{what} is not base64url") from error
    if len(raw) != MESSAGE_ID_BYTES:
        raise EnvelopeError(f"{what} must be b64 of 16 bytes")
    return value


def check_sender(sender: str) -> str:
    """``visitor`` or a device id (b64 of 16 bytes)."""
    if sender == VISITOR:
        return sender
    return _check_id(sender, "device")


def body_aad(thread: str, message_id: str, sender: str) -> bytes:
    return join_fields(BODY_AAD_LABEL, _check_id(thread, "thread"), _check_id(message_id, "id"), check_sender(sender))


def check_ct_length(sealed: bytes) -> None:
    """A sealed body is padded blocks of 256 bytes plus the 16-byte tag, from one block to 16 KiB padded."""
    if not MIN_CT_BYTES <= len(sealed) <= MAX_CT_BYTES or (len(sealed) - GCM_TAG_BYTES) % 256:
        raise EnvelopeError("ct has a length no padded body can have")


def seal_body(content_key: bytes, thread: str, message_id: str, sender: str, message: Mapping[str, Any]) -> str:
    """AES-256-GCM of the padded JSON message under the content key (nonce zero: the key is used once)."""
    if len(content_key) != CONTENT_KEY_BYTES:
        raise ValueError("the content key is 32 bytes")
    sealed = AESGCM(content_key).encrypt(ZERO_NONCE, pad(encode_message(message)),
                                         body_aad(thread, message_id, sender))
    return b64e(sealed)


def open_body(content_key: bytes, thread: str, message_id: str, sender: str, ct: str) -> dict[str, Any]:
    """The message object inside ``ct``; EnvelopeError if it does not authenticate or is not padded JSON."""
    import json

    sealed = b64d(ct)
    check_ct_length(sealed)
    try:
        padded = AESGCM(content_key).decrypt(ZERO_NONCE, sealed, body_aad(thread, message_id, sender))
        message = json.loads(unpad(padded).decode("utf-8"))
    except InvalidTag as error:
        raise EnvelopeError("the body does not authenticate") from error
    except ValueError as error:
        raise EnvelopeError("the body is not padded UTF-8 JSON") from error
    if not isinstance(message, dict):
        raise EnvelopeError("the body is not a JSON object")
    return message


# --- Signatures over a message -----------------------------------------------------------------------


def message_tbs(thread: str, message_id: str, sender: str, ct: str) -> bytes:
    """What the sender signs: thread, id, sender and the SHA-256 of the sealed body (docs/mailbox.md §4)."""
    digest = b64e(hashlib.sha256(b64d(ct)).digest())
    return join_fields(MESSAGE_TBS_LABEL, _check_id(thread, "thread"), _check_id(message_id, "id"),
                       check_sender(sender), digest)


def sign_message(private_key: ec.EllipticCurvePrivateKey, thread: str, message_id: str, sender: str, ct: str) -> str:
    return b64e(sign_raw(private_key, message_tbs(thread, message_id, sender, ct)))


def verify_message(public_raw: bytes, thread: str, message_id: str, sender: str, ct: str, sig: str) -> bool:
    """True when ``sig`` is the sender's ECDSA signature over the message; False for anything malformed."""
    try:
        signature = b64d(sig)
        if len(signature) != SIGNATURE_BYTES:
            return False
        return verify_raw(load_public_key(public_raw), signature, message_tbs(thread, message_id, sender, ct))
    except ValueError:
        return False


# --- Wrapping the content key to each recipient --------------------------------------------------------


@dataclass(frozen=True)
class Wrap:
    """The content key wrapped to one recipient: the ephemeral ECDH point and the sealed key."""

    epk: str
    wk: str

    def as_json(self) -> dict[str, str]:
        return {"epk": self.epk, "wk": self.wk}


def _kek(shared: bytes, epk_raw: bytes, recipient_raw: bytes, thread: str, message_id: str, recipient: str) -> bytes:
    salt = hashlib.sha256(epk_raw + recipient_raw).digest()
    info = join_fields(LABEL, "wrap", _check_id(thread, "thread"), _check_id(message_id, "id"), recipient)
    return _hkdf(shared, salt, info, CONTENT_KEY_BYTES)


def check_recipient(recipient: str) -> str:
    if recipient == MAILBOX_RECIPIENT:
        return recipient
    return _check_id(recipient, "device")


def wrap_content_key(content_key: bytes, recipient_public_raw: bytes, thread: str, message_id: str,
                     recipient: str, ephemeral: ec.EllipticCurvePrivateKey | None = None) -> Wrap:
    """ECDH with a fresh ephemeral key, HKDF, then AES-256-GCM of the content key (nonce zero: one key, one use).

    ``ephemeral`` is for the test vectors only; every real wrap uses a new key.
    """
    check_recipient(recipient)
    if len(content_key) != CONTENT_KEY_BYTES:
        raise ValueError("the content key is 32 bytes")
    own = ephemeral or generate_private_key()
    epk_raw = public_key_bytes(own)
    shared = ecdh_shared_secret(own, recipient_public_raw)
    kek = _kek(shared, epk_raw, recipient_public_raw, thread, message_id, recipient)
    return Wrap(epk=b64e(epk_raw), wk=b64e(AESGCM(kek).encrypt(ZERO_NONCE, content_key, b"")))


def unwrap_content_key(own_private: ec.EllipticCurvePrivateKey, wrap: Mapping[str, str], thread: str,
                       message_id: str, recipient: str) -> bytes:
    """The content key from one wrap, with the recipient's ECDH private key; EnvelopeError if it fails."""
    try:
        epk_raw = b64d(wrap["epk"])
        sealed = b64d(wrap["wk"])
        shared = ecdh_shared_secret(own_private, epk_raw)
    except (KeyError, TypeError, ValueError) as error:
        raise EnvelopeError("the wrap is malformed") from error
    if len(sealed) != WRAPPED_KEY_BYTES:
        raise EnvelopeError("a wrapped key is 48 bytes")
    kek = _kek(shared, epk_raw, public_key_bytes(own_private), thread, message_id, check_recipient(recipient))
    try:
        return AESGCM(kek).decrypt(ZERO_NONCE, sealed, b"")
    except InvalidTag as error:
        raise EnvelopeError("the wrap does not authenticate") from error


# --- A counsellor device's encryption key ---------------------------------------------------------------


def ek_binding_tbs(device: str, ek: str) -> bytes:
    """What a device's certified ECDSA key signs to vouch for its ECDH encryption key (docs/mailbox.md §5)."""
    return join_fields(EK_TBS_LABEL, _check_id(device, "device"), ek)


def sign_ek_binding(device_private: ec.EllipticCurvePrivateKey, device: str, ek: str) -> str:
    return b64e(sign_raw(device_private, ek_binding_tbs(device, ek)))


def verify_ek_binding(device_public_raw: bytes, device: str, ek: str, ek_sig: str) -> bool:
    """True when ``ek`` is a P-256 point and ``ek_sig`` is the device key's signature over the binding."""
    try:
        if len(b64d(ek)) != PUBLIC_KEY_BYTES:
            return False
        load_public_key(b64d(ek))
        signature = b64d(ek_sig)
        return len(signature) == SIGNATURE_BYTES and verify_raw(
            load_public_key(device_public_raw), signature, ek_binding_tbs(device, ek))
    except ValueError:
        return False

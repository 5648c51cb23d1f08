"""Chat protocol cryptography (v2): encodings, certificates, handshakes, identity keys, messages, hand-over, PoW.

This module is the Python half of the protocol in ``protocol.md`` (the browser half is
``chat/static/chat/protocol.js``); both reproduce ``vectors.json``. It has no Django
import so that tests, tools and the server can all use it. Where the protocol text
was open to more than one reading, ``docs/protocol.md`` now says which one both follow.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "CERT_TBS_LABEL",
    "CHAT_ID_BYTES",
    "DEVICE_ID_BYTES",
    "HANDOVER_LABEL",
    "HANDSHAKE_TBS_LABEL",
    "KDF_LABEL",
    "MAX_BUNDLE_PLAINTEXT_BYTES",
    "MAX_PLAINTEXT_BYTES",
    "MAX_POW_NONCE_BYTES",
    "MAX_RECEIPT_IDS",
    "MAX_SAFE_INTEGER",
    "MESSAGE_AAD_LABEL",
    "MESSAGE_ID_BYTES",
    "PADDING_BLOCK",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "VK_TBS_LABEL",
    "BundleError",
    "CertificateCheck",
    "CertificateError",
    "Direction",
    "MessageDecryptionError",
    "ReceiveWindow",
    "ReplayedSequenceError",
    "SendCounter",
    "SessionKeys",
    "b64d",
    "b64e",
    "bundle_tbs",
    "cert_tbs",
    "decrypt_message",
    "der_to_raw_signature",
    "derive_session",
    "ecdh_shared_secret",
    "encode_message",
    "encrypt_message",
    "generate_private_key",
    "handshake_tbs",
    "is_message_id",
    "join_fields",
    "load_public_key",
    "make_certificate",
    "message_aad",
    "message_nonce",
    "new_device_id",
    "new_message_id",
    "open_bundle",
    "org_key_id",
    "pad",
    "padded_length",
    "pow_check",
    "pow_leading_zero_bits",
    "pow_solve",
    "private_key_from_scalar_hex",
    "public_key_bytes",
    "raw_to_der_signature",
    "receipt_ids",
    "receipt_message",
    "safety_code_from_sas",
    "seal_bundle",
    "session_salt",
    "sign_handshake",
    "sign_raw",
    "sign_visitor_key",
    "text_message",
    "unpad",
    "utc_today",
    "verify_certificate",
    "verify_handshake",
    "verify_raw",
    "verify_visitor_key",
    "visitor_key_tbs",
    "work_check",
    "work_digest",
    "work_solve",
]

CERT_TBS_LABEL: Final = "helpline-cert-v1"
HANDSHAKE_TBS_LABEL: Final = "helpline-hs-v1"
KDF_LABEL: Final = "helpline-v1"
MESSAGE_AAD_LABEL: Final = "helpline-msg-v1"

PUBLIC_KEY_BYTES: Final = 65
SIGNATURE_BYTES: Final = 64
COORDINATE_BYTES: Final = 32
DEVICE_ID_BYTES: Final = 16
CHAT_ID_BYTES: Final = 16
SESSION_KEY_BYTES: Final = 32
SAS_BYTES: Final = 4
NONCE_BYTES: Final = 12
PADDING_BLOCK: Final = 256
MAX_PLAINTEXT_BYTES: Final = 16 * 1024
MAX_POW_NONCE_BYTES: Final = 32
POW_SOLVER_NONCE_BYTES: Final = 8
# The PBKDF2 puzzle's iterations per attempt: at most this many, so that checking an answer stays cheap.
WORK_MIN_ITERATIONS: Final = 1
WORK_MAX_ITERATIONS: Final = 8192
WORK_MAX_BITS: Final = 40
SAFETY_CODE_MODULUS: Final = 1_000_000
PSEUDONYM_MAX_CHARS: Final = 40
# Epochs and seqs cross into JavaScript as Numbers; above this they lose precision.
MAX_SAFE_INTEGER: Final = 2**53 - 1

Direction = Literal["v2c", "c2v"]
CERT_FIELDS: Final[frozenset[str]] = frozenset({"v", "device", "pseudonym", "key", "not_after", "sig"})

_B64URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)
# fromisoformat alone would also take "20301231" and other ISO forms.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_CURVE = ec.SECP256R1()


# --- Encodings ---------------------------------------------------------------


def b64e(data: bytes) -> str:
    """Encode bytes as base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on padding, foreign or non-canonical input.

    Only the canonical encoding is accepted, so one byte string has exactly one
    text form and signed texts cannot be varied without changing their bytes.
    """
    b64d_length(text)  # its form: string, alphabet, length, canonical last character
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("base64url input does not decode") from error
    return data


# For unpadded base64url of length n % 4 == 2 or 3, the last character carries 4 or 2 bits that no byte
# uses; canonical encoders leave them zero, so that character is one of these.
_LAST_OF_TWO = frozenset("AQgw")
_LAST_OF_THREE = frozenset("AEIMQUYcgkosw048")


def b64d_length(text: str) -> int:
    """How many bytes `b64d(text)` decodes to, without decoding; raise ValueError where b64d would.

    For a field checked and passed on unread (a relayed message's ciphertext), at no cost per byte beyond
    matching the alphabet (tests/unit/test_protocol_crypto.py compares it with decoding)."""
    if not isinstance(text, str):
        raise ValueError("base64url input must be a string")
    if not _B64URL_ALPHABET.fullmatch(text):
        raise ValueError("base64url input has a character outside the alphabet (padding is not allowed)")
    rest = len(text) % 4
    if rest == 1:
        raise ValueError("base64url input has an impossible length")
    if (rest == 2 and text[-1] not in _LAST_OF_TWO) or (rest == 3 and text[-1] not in _LAST_OF_THREE):
        raise ValueError("base64url input is not canonical (stray bits in the last character)")
    return len(text) * 3 // 4


def join_fields(*fields: str) -> bytes:
    """Join text fields with a newline and encode them as UTF-8, as every signed or bound text is.

    A newline inside a field would let two different field lists give the same bytes,
    so it is refused.
    """
    for field in fields:
        if not isinstance(field, str):
            raise ValueError("every field must be a string")
        if "\n" in field:
            raise ValueError("a field may not contain a newline")
    return "\n".join(fields).encode("utf-8")


def _decimal_field(value: int, name: str) -> str:
    # bool is an int in Python; "True" in a signed text would never match the browser's.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    if not 0 <= value <= MAX_SAFE_INTEGER:
        raise ValueError(f"{name} must be between 0 and 2**53 - 1")
    return str(value)


def _check_chat_id(chat: str) -> str:
    if len(b64d(chat)) != CHAT_ID_BYTES:
        raise ValueError("chat must be base64url of 16 bytes")
    return chat


# --- Keys ----------------------------------------------------------------------


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """Make a fresh P-256 private key (usable for both ECDSA and ECDH)."""
    return ec.generate_private_key(_CURVE)


def private_key_from_scalar_hex(scalar_hex: str) -> ec.EllipticCurvePrivateKey:
    """Build a P-256 private key from its scalar in hex (as written in vectors.json)."""
    try:
        scalar = int(scalar_hex, 16)
    except ValueError as error:
        raise ValueError("scalar must be hexadecimal") from error
    return ec.derive_private_key(scalar, _CURVE)


def public_key_bytes(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
    """Return the 65-byte uncompressed SEC1 encoding of a P-256 public key (or of a private key's public half)."""
    public_key = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ValueError("key is not on P-256")
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def load_public_key(raw65: bytes) -> ec.EllipticCurvePublicKey:
    """Load a P-256 public key from its 65-byte uncompressed SEC1 form; ValueError if not a point on the curve."""
    if not isinstance(raw65, bytes) or len(raw65) != PUBLIC_KEY_BYTES or raw65[0] != 0x04:
        raise ValueError("public key must be a 65-byte uncompressed P-256 point")
    # from_encoded_point checks that the point lies on the curve.
    return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw65)


def org_key_id(org_public_raw: bytes) -> str:
    """Name the organisation key: b64 of the first 8 bytes of SHA-256 over its SEC1 form."""
    load_public_key(org_public_raw)
    return b64e(hashlib.sha256(org_public_raw).digest()[:8])


def new_device_id() -> str:
    """Make a device identifier for a certificate: b64 of 16 random bytes."""
    return b64e(secrets.token_bytes(DEVICE_ID_BYTES))


# --- Signatures ----------------------------------------------------------------


def der_to_raw_signature(der: bytes) -> bytes:
    """Convert a DER ECDSA signature to the 64-byte r‖s form that WebCrypto uses."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")


def raw_to_der_signature(raw64: bytes) -> bytes:
    """Convert a 64-byte r‖s ECDSA signature to DER; ValueError if it is not 64 bytes."""
    if len(raw64) != SIGNATURE_BYTES:
        raise ValueError("raw signature must be 64 bytes")
    r = int.from_bytes(raw64[:COORDINATE_BYTES], "big")
    s = int.from_bytes(raw64[COORDINATE_BYTES:], "big")
    return encode_dss_signature(r, s)


def sign_raw(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Sign with ECDSA P-256 / SHA-256 and return the 64-byte r‖s signature."""
    return der_to_raw_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))


def verify_raw(public_key: ec.EllipticCurvePublicKey, sig64: bytes, data: bytes) -> bool:
    """Check a 64-byte r‖s ECDSA P-256 / SHA-256 signature; False for any bad or malformed signature."""
    if len(sig64) != SIGNATURE_BYTES:
        return False
    r = int.from_bytes(sig64[:COORDINATE_BYTES], "big")
    s = int.from_bytes(sig64[COORDINATE_BYTES:], "big")
    if r == 0 or s == 0:
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- Certificates --------------------------------------------------------------


class CertificateError(ValueError):
    """A certificate was refused; ``reason`` is a short, stable, machine-friendly word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CertificateCheck:
    """What a verified certificate vouches for."""

    device: str
    pseudonym: str
    device_public_raw: bytes
    device_public_key: ec.EllipticCurvePublicKey
    not_after: dt.date


def utc_today() -> dt.date:
    """Today's date in UTC, the clock that certificate expiry is measured against."""
    return dt.datetime.now(dt.UTC).date()


def _check_pseudonym(pseudonym: object) -> str:
    if not isinstance(pseudonym, str):
        raise CertificateError("bad_pseudonym", "not a string")
    if not 1 <= len(pseudonym) <= PSEUDONYM_MAX_CHARS:
        raise CertificateError("bad_pseudonym", "must be 1 to 40 characters")
    # isprintable is false for control, format (bidi overrides), surrogate, private-use,
    # unassigned and separator characters other than the ASCII space: none may spoof a name.
    if not pseudonym.isprintable():
        raise CertificateError("bad_pseudonym", "has a character that is not printable")
    return pseudonym


def _check_device_id(device: object) -> str:
    if not isinstance(device, str):
        raise CertificateError("bad_device", "not a string")
    try:
        decoded = b64d(device)
    except ValueError as error:
        raise CertificateError("bad_device", "not base64url") from error
    if len(decoded) != DEVICE_ID_BYTES:
        raise CertificateError("bad_device", "must decode to 16 bytes")
    return device


def _check_device_key(key: object) -> tuple[bytes, ec.EllipticCurvePublicKey]:
    if not isinstance(key, str):
        raise CertificateError("bad_key", "not a string")
    try:
        raw = b64d(key)
        return raw, load_public_key(raw)
    except ValueError as error:
        raise CertificateError("bad_key", "not a P-256 point") from error


def _parse_not_after(not_after: object) -> dt.date:
    if not isinstance(not_after, str) or not _ISO_DATE.fullmatch(not_after):
        raise CertificateError("bad_not_after", "must be YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(not_after)
    except ValueError as error:
        raise CertificateError("bad_not_after", "not a real date") from error


def cert_tbs(cert: Mapping[str, Any], org_key_id: str) -> bytes:
    """The bytes the organisation key signs for a certificate (``tbs_cert`` in protocol.md §3)."""
    return join_fields(
        CERT_TBS_LABEL,
        cert["device"],
        cert["pseudonym"],
        cert["key"],
        cert["not_after"],
        org_key_id,
    )


def make_certificate(
    org_private: ec.EllipticCurvePrivateKey,
    device_id_b64: str,
    pseudonym: str,
    device_public_raw: bytes,
    not_after: dt.date,
) -> dict[str, Any]:
    """Certify a counsellor device key with the organisation key; the inputs pass the same checks a visitor makes."""
    _check_device_id(device_id_b64)
    _check_pseudonym(pseudonym)
    load_public_key(device_public_raw)
    cert: dict[str, Any] = {
        "v": 1,
        "device": device_id_b64,
        "pseudonym": pseudonym,
        "key": b64e(device_public_raw),
        "not_after": not_after.isoformat(),
    }
    key_id = org_key_id(public_key_bytes(org_private))
    cert["sig"] = b64e(sign_raw(org_private, cert_tbs(cert, key_id)))
    return cert


def verify_certificate(cert: Mapping[str, Any], org_public_raw: bytes, today: dt.date) -> CertificateCheck:
    """Accept a certificate only if it is well formed, unexpired on ``today`` (UTC) and signed by the org key.

    Raises CertificateError whose ``reason`` is one of: ``not_object``, ``bad_fields``,
    ``bad_version``, ``bad_device``, ``bad_pseudonym``, ``bad_key``, ``bad_not_after``,
    ``expired``, ``bad_signature``.
    """
    if not isinstance(cert, Mapping):
        raise CertificateError("not_object")
    if set(cert.keys()) != CERT_FIELDS:
        raise CertificateError("bad_fields", "must have exactly v, device, pseudonym, key, not_after, sig")
    version = cert["v"]
    if isinstance(version, bool) or not isinstance(version, int) or version != 1:
        raise CertificateError("bad_version", "v must be the integer 1")
    for name in ("device", "pseudonym", "key", "not_after", "sig"):
        if not isinstance(cert[name], str):
            raise CertificateError("bad_fields", f"{name} must be a string")
    device = _check_device_id(cert["device"])
    pseudonym = _check_pseudonym(cert["pseudonym"])
    device_public_raw, device_public_key = _check_device_key(cert["key"])
    not_after = _parse_not_after(cert["not_after"])
    if today > not_after:
        raise CertificateError("expired", f"valid until {not_after.isoformat()}")
    try:
        sig = b64d(cert["sig"])
        org_public_key = load_public_key(org_public_raw)
    except ValueError as error:
        raise CertificateError("bad_signature", "signature or org key is malformed") from error
    tbs = cert_tbs(cert, org_key_id(org_public_raw))
    if not verify_raw(org_public_key, sig, tbs):
        raise CertificateError("bad_signature", "does not verify under the organisation key")
    return CertificateCheck(
        device=device,
        pseudonym=pseudonym,
        device_public_raw=device_public_raw,
        device_public_key=device_public_key,
        not_after=not_after,
    )


# --- Handshake -----------------------------------------------------------------


def handshake_tbs(chat: str, epoch: int, vk: str, ck: str) -> bytes:
    """The bytes a counsellor's device key signs for one epoch (``tbs_hs`` in protocol.md §5)."""
    return join_fields(HANDSHAKE_TBS_LABEL, _check_chat_id(chat), _decimal_field(epoch, "epoch"), vk, ck)


def sign_handshake(device_private: ec.EllipticCurvePrivateKey, chat: str, epoch: int, vk: str, ck: str) -> str:
    """Sign a handshake with a device key and return the b64 r‖s signature (what a counsellor's `accept` carries)."""
    return b64e(sign_raw(device_private, handshake_tbs(chat, epoch, vk, ck)))


def verify_handshake(
    cert: Mapping[str, Any] | CertificateCheck,
    chat: str,
    epoch: int,
    vk: str,
    ck: str,
    sig_b64: str,
) -> bool:
    """Check a handshake signature under the certificate's device key; False on any failure.

    Both ``vk`` and ``ck`` must be valid P-256 points. This does not check the
    certificate itself (pass a ``CertificateCheck`` from ``verify_certificate`` for
    that, as a visitor does); the server uses it with a stored certificate for the
    ``bad_signature`` error.
    """
    try:
        if isinstance(cert, CertificateCheck):
            device_public_key = cert.device_public_key
        else:
            key_field = cert["key"]
            if not isinstance(key_field, str):
                return False
            device_public_key = load_public_key(b64d(key_field))
        load_public_key(b64d(vk))
        load_public_key(b64d(ck))
        tbs = handshake_tbs(chat, epoch, vk, ck)
        sig = b64d(sig_b64)
    except (KeyError, TypeError, ValueError):
        return False
    return verify_raw(device_public_key, sig, tbs)


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """The per-epoch keys both sides derive (protocol.md §5 step 4)."""

    k_v2c: bytes
    k_c2v: bytes
    sas_bytes: bytes
    safety_code: str

    def key_for(self, direction: Direction) -> bytes:
        """The AES-256-GCM key for messages travelling in ``direction``."""
        if direction == "v2c":
            return self.k_v2c
        if direction == "c2v":
            return self.k_c2v
        raise ValueError("direction must be 'v2c' or 'c2v'")

    def __repr__(self) -> str:
        # Keys must not end up in logs or tracebacks.
        return f"SessionKeys(safety_code={self.safety_code!r}, keys=<hidden>)"


def ecdh_shared_secret(own_private: ec.EllipticCurvePrivateKey, peer_public_raw: bytes) -> bytes:
    """Z: the 32-byte x-coordinate of the ECDH P-256 shared point."""
    return own_private.exchange(ec.ECDH(), load_public_key(peer_public_raw))


def session_salt(v_pub_raw: bytes, c_pub_raw: bytes) -> bytes:
    """The HKDF salt: SHA-256 over the visitor's then the counsellor's 65-byte points."""
    load_public_key(v_pub_raw)
    load_public_key(c_pub_raw)
    return hashlib.sha256(v_pub_raw + c_pub_raw).digest()


def safety_code_from_sas(sas_bytes: bytes) -> str:
    """Six digits people can compare aloud: uint32_be(sas) mod 1 000 000, zero-padded."""
    if len(sas_bytes) != SAS_BYTES:
        raise ValueError("sas must be 4 bytes")
    return f"{int.from_bytes(sas_bytes, 'big') % SAFETY_CODE_MODULUS:06d}"


def _hkdf(shared_secret: bytes, salt: bytes, label: str, chat: str, epoch: int, length: int) -> bytes:
    info = join_fields(KDF_LABEL, label, chat, _decimal_field(epoch, "epoch"))
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(shared_secret)


def derive_session(
    own_private: ec.EllipticCurvePrivateKey,
    peer_public_raw: bytes,
    v_pub_raw: bytes,
    c_pub_raw: bytes,
    chat: str,
    epoch: int,
) -> SessionKeys:
    """Derive k_v2c, k_c2v and the safety code for one epoch, from either side.

    The own and peer keys must be the two handshake keys, one each; a peer that
    echoes our own key back would otherwise make both directions' keys ours alone.
    """
    _check_chat_id(chat)
    own_public_raw = public_key_bytes(own_private)
    if v_pub_raw == c_pub_raw:
        raise ValueError("visitor and counsellor keys must differ")
    if {own_public_raw, peer_public_raw} != {v_pub_raw, c_pub_raw}:
        raise ValueError("own and peer keys must be the visitor's and the counsellor's handshake keys")
    shared_secret = ecdh_shared_secret(own_private, peer_public_raw)
    salt = session_salt(v_pub_raw, c_pub_raw)
    sas_bytes = _hkdf(shared_secret, salt, "sas", chat, epoch, SAS_BYTES)
    return SessionKeys(
        k_v2c=_hkdf(shared_secret, salt, "v2c", chat, epoch, SESSION_KEY_BYTES),
        k_c2v=_hkdf(shared_secret, salt, "c2v", chat, epoch, SESSION_KEY_BYTES),
        sas_bytes=sas_bytes,
        safety_code=safety_code_from_sas(sas_bytes),
    )


# --- Messages ------------------------------------------------------------------


class MessageDecryptionError(ValueError):
    """A message did not authenticate, or its plaintext is not a padded JSON object."""


class ReplayedSequenceError(ValueError):
    """A message's seq is below the receiver's next_seq: a replay or a reordering."""


def padded_length(plaintext_length: int) -> int:
    """Length after padding: one 0x80 byte, then zeros up to a multiple of 256."""
    return (plaintext_length // PADDING_BLOCK + 1) * PADDING_BLOCK


def pad(plaintext: bytes, limit: int = MAX_PLAINTEXT_BYTES) -> bytes:
    """Pad a plaintext of at most `limit` bytes (16 KiB for messages): 0x80, then 0x00 bytes to a multiple of 256."""
    if len(plaintext) > limit:
        raise ValueError("plaintext is longer than 16 KiB" if limit == MAX_PLAINTEXT_BYTES else
                         f"plaintext is longer than {limit} bytes")
    return plaintext + b"\x80" + b"\x00" * (padded_length(len(plaintext)) - len(plaintext) - 1)


def unpad(padded: bytes, limit: int = MAX_PLAINTEXT_BYTES) -> bytes:
    """Remove padding; ValueError unless it is exactly what ``pad`` makes."""
    if len(padded) == 0 or len(padded) % PADDING_BLOCK != 0:
        raise ValueError("padded length is not a positive multiple of 256")
    plaintext_end = padded.rstrip(b"\x00")
    if not plaintext_end.endswith(b"\x80"):
        raise ValueError("padding marker 0x80 is missing")
    plaintext = plaintext_end[:-1]
    # Exactly one canonical padding per length keeps sizes from carrying hidden bits.
    if padded_length(len(plaintext)) != len(padded) or len(plaintext) > limit:
        raise ValueError("padding is longer than needed or plaintext too long")
    return plaintext


def _check_direction(direction: str) -> Direction:
    if direction == "v2c":
        return "v2c"
    if direction == "c2v":
        return "c2v"
    raise ValueError("direction must be 'v2c' or 'c2v'")


def message_aad(chat: str, epoch: int, direction: Direction, seq: int) -> bytes:
    """The associated data that binds a ciphertext to its chat, epoch, direction and seq."""
    return join_fields(
        MESSAGE_AAD_LABEL,
        _check_chat_id(chat),
        _decimal_field(epoch, "epoch"),
        _check_direction(direction),
        _decimal_field(seq, "seq"),
    )


def message_nonce(seq: int) -> bytes:
    """The AES-GCM nonce: seq as a 12-byte big-endian integer."""
    return int(_decimal_field(seq, "seq")).to_bytes(NONCE_BYTES, "big")


def encode_message(message: Mapping[str, Any]) -> bytes:
    """Serialise a message object as compact UTF-8 JSON, the form the vectors use."""
    if not isinstance(message, Mapping):
        raise ValueError("a message must be a JSON object")
    try:
        text = json.dumps(dict(message), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, UnicodeEncodeError) as error:
        raise ValueError("message is not encodable as UTF-8 JSON") from error


def _refuse_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def encrypt_message(
    key: bytes,
    chat: str,
    epoch: int,
    direction: Direction,
    seq: int,
    message: Mapping[str, Any],
) -> str:
    """Seal a message object: JSON, pad, AES-256-GCM with the seq nonce and the AAD; returns b64(ciphertext‖tag).

    The caller must never reuse a seq with the same key (use ``SendCounter``).
    """
    if len(key) != SESSION_KEY_BYTES:
        raise ValueError("key must be 32 bytes")
    aad = message_aad(chat, epoch, direction, seq)
    padded = pad(encode_message(message))
    return b64e(AESGCM(key).encrypt(message_nonce(seq), padded, aad))


def decrypt_message(key: bytes, chat: str, epoch: int, direction: Direction, seq: int, ct_b64: str) -> dict[str, Any]:
    """Open a sealed message and return its JSON object; MessageDecryptionError if anything is wrong."""
    if len(key) != SESSION_KEY_BYTES:
        raise ValueError("key must be 32 bytes")
    aad = message_aad(chat, epoch, direction, seq)
    try:
        sealed = b64d(ct_b64)
    except ValueError as error:
        raise MessageDecryptionError("ciphertext is not base64url") from error
    if len(sealed) > padded_length(MAX_PLAINTEXT_BYTES) + 16:
        raise MessageDecryptionError("ciphertext is too long")
    try:
        padded = AESGCM(key).decrypt(message_nonce(seq), sealed, aad)
    except InvalidTag as error:
        raise MessageDecryptionError("message does not authenticate") from error
    try:
        message = json.loads(unpad(padded).decode("utf-8"), parse_constant=_refuse_json_constant)
    except ValueError as error:  # covers UnicodeDecodeError and JSONDecodeError
        raise MessageDecryptionError("plaintext is not padded UTF-8 JSON") from error
    if not isinstance(message, dict):
        raise MessageDecryptionError("plaintext is not a JSON object")
    return message


class ReceiveWindow:
    """The receiver's ``next_seq`` for one direction of one epoch (protocol.md §6).

    Call ``check`` before decrypting and ``advance`` only after the message has
    authenticated: a forged frame with a huge seq must not move the window.
    """

    def __init__(self, next_seq: int = 0) -> None:
        self.next_seq = int(_decimal_field(next_seq, "next_seq"))

    def check(self, seq: int) -> int:
        """Return how many messages are missing before ``seq``; raise ReplayedSequenceError if it was seen."""
        _decimal_field(seq, "seq")
        if seq < self.next_seq:
            raise ReplayedSequenceError(f"seq {seq} is below next_seq {self.next_seq}")
        return seq - self.next_seq

    def advance(self, seq: int) -> int:
        """Record ``seq`` as received and return the gap before it (0 when none went missing)."""
        gap = self.check(seq)
        self.next_seq = seq + 1
        return gap


class SendCounter:
    """The sender's seq for one direction of one epoch: each value is handed out once."""

    def __init__(self) -> None:
        self._next_seq = 0

    def next_seq(self) -> int:
        """Return a seq never returned before by this counter."""
        seq = self._next_seq
        _decimal_field(seq, "seq")
        self._next_seq = seq + 1
        return seq


# --- Protocol v2: the visitor's identity key, message ids and receipts, hand-over bundles ------------

VK_TBS_LABEL: Final = "helpline-vk-v2"
HANDOVER_LABEL: Final = "helpline-handover-v2"
MESSAGE_ID_BYTES: Final = 8
MAX_RECEIPT_IDS: Final = 64
# A hand-over bundle's content, JSON before padding: the note, the visitor's identity key, the transcript.
MAX_BUNDLE_PLAINTEXT_BYTES: Final = 32 * 1024 - 1
CONTENT_KEY_BYTES: Final = 32
ZERO_NONCE: Final = bytes(NONCE_BYTES)  # every key it is used with encrypts exactly one thing


def _check_point_b64(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be b64 text")
    load_public_key(b64d(value))
    return value


def visitor_key_tbs(ik: str, vk: str) -> bytes:
    """What the visitor's identity key signs for each epoch's key (``tbs_vk``, docs/protocol.md)."""
    return join_fields(VK_TBS_LABEL, _check_point_b64(ik, "ik"), _check_point_b64(vk, "vk"))


def sign_visitor_key(identity_private: ec.EllipticCurvePrivateKey, vk: str) -> str:
    """The `vsig` a visitor's `join` or `resume` carries: its identity key's signature over this epoch's key."""
    ik = b64e(public_key_bytes(identity_private))
    return b64e(sign_raw(identity_private, visitor_key_tbs(ik, vk)))


def verify_visitor_key(ik: str, vk: str, vsig: str) -> bool:
    """True when `vsig` is `ik`'s signature over `vk`; False on any failure (a counsellor then refuses it)."""
    try:
        tbs = visitor_key_tbs(ik, vk)
        sig = b64d(vsig)
        identity = load_public_key(b64d(ik))
    except (TypeError, ValueError):
        return False
    return verify_raw(identity, sig, tbs)


def new_message_id() -> str:
    """A message's id inside the encryption: b64 of 8 random bytes, kept when the message is re-sent."""
    return b64e(secrets.token_bytes(MESSAGE_ID_BYTES))


def is_message_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return len(b64d(value)) == MESSAGE_ID_BYTES
    except ValueError:
        return False


def text_message(body: str, message_id: str) -> dict[str, Any]:
    """A text message as v2 sends it (`{"t": "text", "id", "body"}`)."""
    if not is_message_id(message_id):
        raise ValueError("a message id is b64 of 8 bytes")
    return {"t": "text", "id": message_id, "body": body}


def receipt_message(message_ids: Sequence[str]) -> dict[str, Any]:
    """The receipt for text messages received and shown (`{"t": "receipt", "ids"}`), at most 64 ids."""
    ids = list(message_ids)
    if not 0 < len(ids) <= MAX_RECEIPT_IDS or not all(is_message_id(value) for value in ids):
        raise ValueError("a receipt names 1 to 64 message ids")
    return {"t": "receipt", "ids": ids}


def receipt_ids(message: Mapping[str, Any]) -> list[str]:
    """The ids a received receipt confirms; [] for anything that is not a well-formed receipt."""
    ids = message.get("ids")
    if message.get("t") != "receipt" or not isinstance(ids, list) or not 0 < len(ids) <= MAX_RECEIPT_IDS:
        return []
    return [value for value in ids if is_message_id(value)]


def _bundle_aad(part: str, chat: str, *fields: str) -> bytes:
    return join_fields(HANDOVER_LABEL, part, _check_chat_id(chat), *fields)


def _bundle_digest(ct: str) -> str:
    return b64e(hashlib.sha256(ct.encode("ascii")).digest())


def bundle_tbs(chat: str, device: str, ct: str) -> bytes:
    """What the sending counsellor's device key signs: the chat, its own device id, the digest of `ct`."""
    return _bundle_aad("sig", chat, _check_device_id(device), _bundle_digest(ct))


def _wrap_key(shared: bytes, epk_raw: bytes, ek_raw: bytes, chat: str, device: str) -> bytes:
    salt = hashlib.sha256(epk_raw + ek_raw).digest()
    info = _bundle_aad("wrap", chat, _check_device_id(device))
    return HKDF(algorithm=hashes.SHA256(), length=CONTENT_KEY_BYTES, salt=salt, info=info).derive(shared)


def seal_bundle(content: Mapping[str, Any], chat: str, recipients: Mapping[str, bytes],
                sender_private: ec.EllipticCurvePrivateKey, sender_device: str, sender_cert: Mapping[str, Any], *,
                content_key: bytes | None = None,
                ephemeral: Mapping[str, ec.EllipticCurvePrivateKey] | None = None) -> dict[str, Any]:
    """Seal a hand-over bundle to each receiving device's encryption key (`recipients`: device id → 65-byte ek).

    The content is encrypted once under a fresh content key; that key is wrapped to each device with
    ECDH(ephemeral, ek) → HKDF → AES-GCM; the sender's device key signs the chat, its id and the digest of the
    ciphertext. `content_key` and `ephemeral` exist for the vectors only.
    """
    if not recipients or len(recipients) > 8:
        raise ValueError("a bundle goes to 1 to 8 devices")
    encoded = encode_message(content)
    key = content_key if content_key is not None else secrets.token_bytes(CONTENT_KEY_BYTES)
    ct = b64e(AESGCM(key).encrypt(ZERO_NONCE, pad(encoded, MAX_BUNDLE_PLAINTEXT_BYTES), _bundle_aad("content", chat)))
    wraps = []
    for device, ek_raw in recipients.items():
        own = (ephemeral or {}).get(device) or generate_private_key()
        epk_raw = public_key_bytes(own)
        wrap_key = _wrap_key(ecdh_shared_secret(own, ek_raw), epk_raw, ek_raw, chat, device)
        wk = AESGCM(wrap_key).encrypt(ZERO_NONCE, key, _bundle_aad("wrap", chat, device))
        wraps.append({"device": device, "epk": b64e(epk_raw), "wk": b64e(wk)})
    sig = b64e(sign_raw(sender_private, bundle_tbs(chat, sender_device, ct)))
    return {"ct": ct, "wraps": wraps, "device": sender_device, "cert": dict(sender_cert), "sig": sig}


class BundleError(ValueError):
    """A hand-over bundle that does not open: not for this device, altered, or not signed by a certified device."""


def open_bundle(bundle: Mapping[str, Any], chat: str, own_device: str, own_ek_private: ec.EllipticCurvePrivateKey,
                org_public_raw: bytes, today: dt.date) -> tuple[dict[str, Any], CertificateCheck]:
    """Check a bundle's sender (certificate under the org key, then its signature) and open it with this
    device's encryption key; returns the content and the sender's checked certificate."""
    try:
        sender = verify_certificate(bundle["cert"], org_public_raw, today)
    except (CertificateError, KeyError, TypeError) as error:
        raise BundleError("the sender's certificate does not verify") from error
    try:
        ct = bundle["ct"]
        if sender.device != bundle["device"]:
            raise BundleError("the certificate is not the signing device's")
        if not verify_raw(sender.device_public_key, b64d(bundle["sig"]), bundle_tbs(chat, bundle["device"], ct)):
            raise BundleError("the bundle's signature does not verify")
        wrap = next(entry for entry in bundle["wraps"] if entry["device"] == own_device)
        epk_raw = b64d(wrap["epk"])
        ek_raw = public_key_bytes(own_ek_private)
        wrap_key = _wrap_key(ecdh_shared_secret(own_ek_private, epk_raw), epk_raw, ek_raw, chat, own_device)
        key = AESGCM(wrap_key).decrypt(ZERO_NONCE, b64d(wrap["wk"]), _bundle_aad("wrap", chat, own_device))
        padded = AESGCM(key).decrypt(ZERO_NONCE, b64d(ct), _bundle_aad("content", chat))
        content = json.loads(unpad(padded, MAX_BUNDLE_PLAINTEXT_BYTES).decode("utf-8"),
                             parse_constant=_refuse_json_constant)
    except BundleError:
        raise
    except StopIteration as error:
        raise BundleError("the bundle has no key for this device") from error
    except (InvalidTag, KeyError, TypeError, ValueError) as error:
        raise BundleError("the bundle does not open") from error
    if not isinstance(content, dict):
        raise BundleError("the bundle's content is not a JSON object")
    return content, sender


# --- Proof of work ---------------------------------------------------------------


def pow_leading_zero_bits(digest: bytes) -> int:
    """Count the leading zero bits of a digest."""
    count = 0
    for byte in digest:
        if byte == 0:
            count += 8
            continue
        return count + 8 - byte.bit_length()
    return count


def _check_pow_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= 256:
        raise ValueError("bits must be an integer from 0 to 256")


def pow_check(challenge_raw: bytes, nonce_raw: bytes, bits: int) -> bool:
    """True when the nonce is at most 32 bytes and SHA-256(challenge ‖ nonce) has ``bits`` leading zero bits."""
    _check_pow_bits(bits)
    if len(nonce_raw) > MAX_POW_NONCE_BYTES:
        return False
    return pow_leading_zero_bits(hashlib.sha256(challenge_raw + nonce_raw).digest()) >= bits


def pow_solve(challenge_raw: bytes, bits: int) -> bytes:
    """Find the smallest 8-byte big-endian counter nonce that meets ``bits`` (the vectors' good nonce is one)."""
    _check_pow_bits(bits)
    prefix = hashlib.sha256(challenge_raw)
    for counter in range(2 ** (8 * POW_SOLVER_NONCE_BYTES)):
        nonce = counter.to_bytes(POW_SOLVER_NONCE_BYTES, "big")
        attempt = prefix.copy()
        attempt.update(nonce)
        if pow_leading_zero_bits(attempt.digest()) >= bits:
            return nonce
    raise ValueError("no nonce found")  # pragma: no cover - needs 2**64 attempts


# --- Proof of work, PBKDF2 (protocol.md §9) --------------------------------------------------
#
# Each attempt is one PBKDF2-HMAC-SHA256 call, which a browser runs natively (WebCrypto deriveBits) at about
# the speed of native code: the SHA-256 puzzle above costs a page one WebCrypto call per hash, which gave a
# native attacker a tenfold edge (docs/threat-model.md, flooding).


def _check_work_parameters(iterations: int, bits: int) -> None:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or \
            not WORK_MIN_ITERATIONS <= iterations <= WORK_MAX_ITERATIONS:
        raise ValueError(f"iterations must be an integer from {WORK_MIN_ITERATIONS} to {WORK_MAX_ITERATIONS}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= WORK_MAX_BITS:
        raise ValueError(f"bits must be an integer from 0 to {WORK_MAX_BITS}")


def work_digest(challenge_raw: bytes, nonce_raw: bytes, iterations: int) -> bytes:
    """PBKDF2-HMAC-SHA256(password = challenge, salt = nonce, iterations), 32 bytes."""
    _check_work_parameters(iterations, 0)
    return hashlib.pbkdf2_hmac("sha256", challenge_raw, nonce_raw, iterations, 32)


def work_check(challenge_raw: bytes, nonce_raw: bytes, iterations: int, bits: int) -> bool:
    """True when the nonce is at most 32 bytes and its work digest has ``bits`` leading zero bits."""
    _check_work_parameters(iterations, bits)
    if len(nonce_raw) > MAX_POW_NONCE_BYTES:
        return False
    return pow_leading_zero_bits(work_digest(challenge_raw, nonce_raw, iterations)) >= bits


def work_solve(challenge_raw: bytes, iterations: int, bits: int) -> bytes:
    """The smallest 8-byte big-endian counter nonce that meets ``bits`` (what protocol.js finds too)."""
    _check_work_parameters(iterations, bits)
    for counter in range(2 ** (8 * POW_SOLVER_NONCE_BYTES)):
        nonce = counter.to_bytes(POW_SOLVER_NONCE_BYTES, "big")
        if pow_leading_zero_bits(work_digest(challenge_raw, nonce, iterations)) >= bits:
            return nonce
    raise ValueError("no nonce found")  # pragma: no cover - needs 2**64 attempts

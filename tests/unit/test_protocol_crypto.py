"""The Python protocol implementation reproduces every value in vectors.json and refuses what protocol.md refuses."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.protocol import crypto
from chat.protocol.crypto import (
    CertificateError,
    MessageDecryptionError,
    ReceiveWindow,
    ReplayedSequenceError,
    SendCounter,
    b64d,
    b64e,
    cert_tbs,
    decrypt_message,
    der_to_raw_signature,
    derive_session,
    ecdh_shared_secret,
    encode_message,
    encrypt_message,
    generate_private_key,
    handshake_tbs,
    join_fields,
    load_public_key,
    make_certificate,
    message_aad,
    message_nonce,
    org_key_id,
    pad,
    padded_length,
    pow_check,
    pow_leading_zero_bits,
    pow_solve,
    private_key_from_scalar_hex,
    public_key_bytes,
    raw_to_der_signature,
    session_salt,
    sign_handshake,
    sign_raw,
    unpad,
    verify_certificate,
    verify_handshake,
    verify_raw,
    work_check,
    work_digest,
    work_solve,
)
from tests.unit.conftest import load_protocol_vectors

BEFORE_EXPIRY = dt.date(2025, 6, 1)
CHAT = "AAECAwQFBgcICQoLDA0ODw"


def org_public_raw(vectors: dict[str, Any]) -> bytes:
    return b64d(vectors["org"]["public"])


def vector_session(vectors: dict[str, Any]) -> crypto.SessionKeys:
    handshake = vectors["handshake"]
    return derive_session(
        private_key_from_scalar_hex(handshake["visitor_private_scalar_hex"]),
        b64d(handshake["ck"]),
        b64d(handshake["vk"]),
        b64d(handshake["ck"]),
        handshake["chat"],
        handshake["epoch"],
    )


def resign(cert: dict[str, Any], vectors: dict[str, Any]) -> dict[str, Any]:
    """Sign a (deliberately odd) certificate with the real org key, to test checks that come before the signature."""
    org_private = private_key_from_scalar_hex(vectors["org"]["private_scalar_hex"])
    cert["sig"] = b64e(sign_raw(org_private, cert_tbs(cert, vectors["org"]["key_id"])))
    return cert


# --- Every vector value --------------------------------------------------------------


def test_org_and_device_public_keys_and_org_key_id(vectors: dict[str, Any]) -> None:
    org_private = private_key_from_scalar_hex(vectors["org"]["private_scalar_hex"])
    device_private = private_key_from_scalar_hex(vectors["device"]["private_scalar_hex"])
    assert b64e(public_key_bytes(org_private)) == vectors["org"]["public"]
    assert b64e(public_key_bytes(org_private.public_key())) == vectors["org"]["public"]
    assert b64e(public_key_bytes(device_private)) == vectors["device"]["public"]
    assert org_key_id(org_public_raw(vectors)) == vectors["org"]["key_id"]


def test_cert_tbs_matches_vector(vectors: dict[str, Any]) -> None:
    assert cert_tbs(vectors["cert"], vectors["org"]["key_id"]) == vectors["cert_tbs"].encode("utf-8")


def test_vector_certificate_signature_verifies(vectors: dict[str, Any]) -> None:
    cert = vectors["cert"]
    org_public_key = load_public_key(org_public_raw(vectors))
    assert verify_raw(org_public_key, b64d(cert["sig"]), vectors["cert_tbs"].encode())
    checked = verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY)
    assert checked.device == "EBESExQVFhcYGRobHB0eHw"
    assert checked.pseudonym == "Sam"
    assert b64e(checked.device_public_raw) == vectors["device"]["public"]
    assert checked.not_after == dt.date(2030, 12, 31)


def test_certificate_is_good_on_its_last_day_and_expired_the_day_after(vectors: dict[str, Any]) -> None:
    assert verify_certificate(vectors["cert"], org_public_raw(vectors), dt.date(2030, 12, 31)).pseudonym == "Sam"
    with pytest.raises(CertificateError) as refused:
        verify_certificate(vectors["cert"], org_public_raw(vectors), dt.date(2031, 1, 1))
    assert refused.value.reason == "expired"


def test_handshake_public_keys_and_tbs(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    visitor = private_key_from_scalar_hex(handshake["visitor_private_scalar_hex"])
    counsellor = private_key_from_scalar_hex(handshake["counsellor_private_scalar_hex"])
    assert b64e(public_key_bytes(visitor)) == handshake["vk"]
    assert b64e(public_key_bytes(counsellor)) == handshake["ck"]
    tbs = handshake_tbs(handshake["chat"], handshake["epoch"], handshake["vk"], handshake["ck"])
    assert tbs == handshake["tbs_hs"].encode("utf-8")


def test_vector_handshake_signature_verifies(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    args = (handshake["chat"], handshake["epoch"], handshake["vk"], handshake["ck"], handshake["sig"])
    assert verify_handshake(vectors["cert"], *args)
    checked = verify_certificate(vectors["cert"], org_public_raw(vectors), BEFORE_EXPIRY)
    assert verify_handshake(checked, *args)


def test_shared_secret_and_salt(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    visitor = private_key_from_scalar_hex(handshake["visitor_private_scalar_hex"])
    counsellor = private_key_from_scalar_hex(handshake["counsellor_private_scalar_hex"])
    assert ecdh_shared_secret(visitor, b64d(handshake["ck"])).hex() == handshake["z_hex"]
    assert ecdh_shared_secret(counsellor, b64d(handshake["vk"])).hex() == handshake["z_hex"]
    assert session_salt(b64d(handshake["vk"]), b64d(handshake["ck"])).hex() == handshake["salt_hex"]


def test_session_keys_and_safety_code_are_the_same_from_both_sides(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    vk, ck = b64d(handshake["vk"]), b64d(handshake["ck"])
    counsellor = private_key_from_scalar_hex(handshake["counsellor_private_scalar_hex"])
    for keys in (
        vector_session(vectors),
        derive_session(counsellor, vk, vk, ck, handshake["chat"], handshake["epoch"]),
    ):
        assert keys.k_v2c.hex() == handshake["k_v2c_hex"]
        assert keys.k_c2v.hex() == handshake["k_c2v_hex"]
        assert keys.safety_code == handshake["safety_code"]
        assert crypto.safety_code_from_sas(keys.sas_bytes) == handshake["safety_code"]
        assert keys.k_v2c.hex() not in repr(keys)


VECTOR_MESSAGES = load_protocol_vectors()["messages"]


@pytest.mark.parametrize("message", VECTOR_MESSAGES, ids=[f"{m['dir']}-{m['seq']}" for m in VECTOR_MESSAGES])
def test_message_vector_encrypts_and_decrypts(vectors: dict[str, Any], message: dict[str, Any]) -> None:
    keys = vector_session(vectors)
    key = keys.key_for(message["dir"])
    epoch = vectors["handshake"]["epoch"]
    plaintext = json.loads(message["plaintext_json"])
    assert message_aad(CHAT, epoch, message["dir"], message["seq"]) == message["aad"].encode("utf-8")
    assert encode_message(plaintext) == message["plaintext_json"].encode("utf-8")
    assert len(pad(encode_message(plaintext))) == message["padded_len"]
    assert encrypt_message(key, CHAT, epoch, message["dir"], message["seq"], plaintext) == message["ct"]
    assert decrypt_message(key, CHAT, epoch, message["dir"], message["seq"], message["ct"]) == plaintext


def test_proof_of_work_vector(vectors: dict[str, Any]) -> None:
    pow_vector = vectors["pow"]
    challenge = bytes.fromhex(pow_vector["challenge_hex"])
    good, bad = bytes.fromhex(pow_vector["good_nonce_hex"]), bytes.fromhex(pow_vector["bad_nonce_hex"])
    assert pow_check(challenge, good, pow_vector["bits"])
    assert not pow_check(challenge, bad, pow_vector["bits"])
    assert pow_leading_zero_bits(hashlib.sha256(challenge + good).digest()) == pow_vector["bits"]
    assert pow_solve(challenge, pow_vector["bits"]) == good



def test_work_puzzle_vector(vectors: dict[str, Any]) -> None:
    work = vectors["work"]
    challenge = bytes.fromhex(work["challenge_hex"])
    good, bad = bytes.fromhex(work["good_nonce_hex"]), bytes.fromhex(work["bad_nonce_hex"])
    iterations, bits = work["iterations"], work["bits"]
    assert work_digest(challenge, good, iterations).hex() == work["good_digest_hex"]
    assert work_digest(challenge, good, iterations) == hashlib.pbkdf2_hmac("sha256", challenge, good, iterations, 32)
    assert work_check(challenge, good, iterations, bits)
    assert not work_check(challenge, bad, iterations, bits)
    assert not work_check(challenge, good, iterations + 1, bits), "the iterations are part of the work"
    assert work_solve(challenge, iterations, bits) == good


@pytest.mark.parametrize(("iterations", "bits"), [(0, 1), (8193, 1), (True, 1), (1.0, 1), (1000, -1), (1000, 41),
                                                  (1000, False)])
def test_work_refuses_parameters_out_of_range(iterations: Any, bits: Any) -> None:
    with pytest.raises(ValueError):
        work_check(b"challenge", b"nonce", iterations, bits)


def test_work_refuses_a_long_nonce() -> None:
    assert work_check(b"challenge", bytes(32), 1, 0)
    assert not work_check(b"challenge", bytes(33), 1, 0)

# --- Encodings -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["AA==", "AA=", "A", "AB+/", "AB C", "AB\n", "AB", "Zh", "AQ=="])
def test_b64d_refuses_padding_foreign_characters_bad_length_and_stray_bits(text: str) -> None:
    assert b64d("AQ") == b"\x01", "the canonical form of the same byte is accepted"
    with pytest.raises(ValueError, match="base64url"):
        b64d(text)


def test_b64_round_trip_and_alphabet() -> None:
    assert b64e(b"\xfb\xff") == "-_8"
    assert b64d("-_8") == b"\xfb\xff"
    assert b64e(b"") == ""
    assert b64d("") == b""


def test_join_fields_refuses_newline_and_joins_with_one() -> None:
    assert join_fields("a", "é", "") == b"a\n\xc3\xa9\n"
    with pytest.raises(ValueError, match="newline"):
        join_fields("a", "b\nc")


def test_newline_in_any_signed_field_is_refused(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    with pytest.raises(ValueError, match="newline"):
        handshake_tbs(handshake["chat"], 0, handshake["vk"] + "\n", handshake["ck"])
    with pytest.raises(ValueError, match="newline"):
        cert_tbs({**vectors["cert"], "pseudonym": "Sam\nAdmin"}, vectors["org"]["key_id"])
    assert not verify_handshake(
        vectors["cert"], handshake["chat"], 0, handshake["vk"], handshake["ck"] + "\n", handshake["sig"]
    )


@pytest.mark.parametrize("epoch", [-1, True, 2**53, "0"])
def test_epoch_must_be_a_safe_non_negative_integer(vectors: dict[str, Any], epoch: Any) -> None:
    handshake = vectors["handshake"]
    with pytest.raises(ValueError, match="epoch"):
        handshake_tbs(handshake["chat"], epoch, handshake["vk"], handshake["ck"])


def test_chat_id_must_be_16_bytes(vectors: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="chat"):
        message_aad(b64e(bytes(15)), 0, "v2c", 0)


# --- Keys and signatures -------------------------------------------------------------


def test_public_key_must_be_an_uncompressed_point_on_the_curve(vectors: dict[str, Any]) -> None:
    raw = b64d(vectors["device"]["public"])
    assert public_key_bytes(load_public_key(raw)) == raw
    off_curve = raw[:-1] + bytes([raw[-1] ^ 1])
    compressed = load_public_key(raw).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    for bad in (off_curve, compressed, raw[:64], raw + b"\x00", b"\x04" + bytes(64)):
        with pytest.raises(ValueError):
            load_public_key(bad)


def test_python_signatures_verify_and_der_raw_conversion_round_trips() -> None:
    private_key = generate_private_key()
    raw_sig = sign_raw(private_key, b"data")
    assert len(raw_sig) == 64
    assert verify_raw(private_key.public_key(), raw_sig, b"data")
    assert not verify_raw(private_key.public_key(), raw_sig, b"datA")
    assert not verify_raw(generate_private_key().public_key(), raw_sig, b"data")
    assert not verify_raw(private_key.public_key(), raw_sig[:63], b"data")
    assert not verify_raw(private_key.public_key(), bytes(64), b"data")
    assert der_to_raw_signature(raw_to_der_signature(raw_sig)) == raw_sig
    der = private_key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    assert raw_to_der_signature(der_to_raw_signature(der)) == der
    with pytest.raises(ValueError, match="64 bytes"):
        raw_to_der_signature(raw_sig + b"\x00")


def test_python_handshake_signature_verifies_and_binds_every_field(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    device_private = private_key_from_scalar_hex(vectors["device"]["private_scalar_hex"])
    sig = sign_handshake(device_private, handshake["chat"], 3, handshake["vk"], handshake["ck"])
    cert = vectors["cert"]
    assert verify_handshake(cert, handshake["chat"], 3, handshake["vk"], handshake["ck"], sig)
    assert not verify_handshake(cert, handshake["chat"], 4, handshake["vk"], handshake["ck"], sig)
    assert not verify_handshake(cert, handshake["chat"], 3, handshake["ck"], handshake["vk"], sig)
    assert not verify_handshake(cert, b64e(bytes(16)), 3, handshake["vk"], handshake["ck"], sig)
    assert not verify_handshake(cert, handshake["chat"], 3, handshake["vk"], handshake["ck"], sig + "A")
    other_device = {**cert, "key": b64e(public_key_bytes(generate_private_key()))}
    assert not verify_handshake(other_device, handshake["chat"], 3, handshake["vk"], handshake["ck"], sig)
    assert not verify_handshake({**cert, "key": 7}, handshake["chat"], 3, handshake["vk"], handshake["ck"], sig)
    assert not verify_handshake({}, handshake["chat"], 3, handshake["vk"], handshake["ck"], sig)


def test_handshake_keys_must_be_points(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    device_private = private_key_from_scalar_hex(vectors["device"]["private_scalar_hex"])
    not_a_point = b64e(b"\x04" + bytes(64))
    sig = sign_handshake(device_private, handshake["chat"], 0, handshake["vk"], not_a_point)
    assert not verify_handshake(vectors["cert"], handshake["chat"], 0, handshake["vk"], not_a_point, sig)


# --- Certificates --------------------------------------------------------------------


def test_make_certificate_round_trips_through_verify(vectors: dict[str, Any]) -> None:
    org_private = private_key_from_scalar_hex(vectors["org"]["private_scalar_hex"])
    device_public = public_key_bytes(generate_private_key())
    device_id = crypto.new_device_id()
    cert = make_certificate(org_private, device_id, "Anne-Marie", device_public, dt.date(2026, 1, 31))
    assert set(cert) == {"v", "device", "pseudonym", "key", "not_after", "sig"}
    checked = verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY)
    assert (checked.device, checked.pseudonym, checked.device_public_raw) == (device_id, "Anne-Marie", device_public)
    with pytest.raises(CertificateError):
        make_certificate(org_private, device_id, "Sam\n", device_public, dt.date(2026, 1, 31))
    with pytest.raises(CertificateError):
        make_certificate(org_private, b64e(bytes(8)), "Sam", device_public, dt.date(2026, 1, 31))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device", "EBESExQVFhcYGRobHB0eHg"),
        ("pseudonym", "Sim"),
        ("key", load_protocol_vectors()["handshake"]["ck"]),
        ("not_after", "2030-12-30"),
        ("sig", b64e(bytes(64))),
    ],
)
def test_tampered_certificate_field_is_refused(vectors: dict[str, Any], field: str, value: str) -> None:
    cert = {**vectors["cert"], field: value}
    with pytest.raises(CertificateError) as refused:
        verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY)
    assert refused.value.reason == "bad_signature"


def test_certificate_under_another_org_key_is_refused(vectors: dict[str, Any]) -> None:
    other_org = public_key_bytes(generate_private_key())
    with pytest.raises(CertificateError) as refused:
        verify_certificate(vectors["cert"], other_org, BEFORE_EXPIRY)
    assert refused.value.reason == "bad_signature"


def test_certificate_signed_for_another_org_key_id_is_refused(vectors: dict[str, Any]) -> None:
    org_private = private_key_from_scalar_hex(vectors["org"]["private_scalar_hex"])
    cert = dict(vectors["cert"])
    cert["sig"] = b64e(sign_raw(org_private, cert_tbs(cert, "AAAAAAAAAAA")))
    with pytest.raises(CertificateError) as refused:
        verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY)
    assert refused.value.reason == "bad_signature"


BAD_CERT_FIELDS: list[tuple[str, Any, str]] = [
    ("v", 2, "bad_version"),
    ("v", True, "bad_version"),
    ("v", "1", "bad_version"),
    ("v", 1.0, "bad_version"),
    ("device", 16, "bad_fields"),
    ("device", b64e(bytes(15)), "bad_device"),
    ("device", b64e(bytes(16)) + "=", "bad_device"),
    ("pseudonym", "", "bad_pseudonym"),
    ("pseudonym", "x" * 41, "bad_pseudonym"),
    ("pseudonym", "Sam\u202eevil", "bad_pseudonym"),
    ("pseudonym", "Sam\tTab", "bad_pseudonym"),
    ("pseudonym", "Sam\u00a0Two", "bad_pseudonym"),
    ("key", b64e(b"\x04" + bytes(64)), "bad_key"),
    ("key", "not a key", "bad_key"),
    ("not_after", "2030-02-30", "bad_not_after"),
    ("not_after", "20301231", "bad_not_after"),
    ("not_after", "2030-1-31", "bad_not_after"),
    ("not_after", "2030-12-31\n", "bad_not_after"),
    ("not_after", "0000-01-01", "bad_not_after"),
]


@pytest.mark.parametrize(("field", "value", "reason"), BAD_CERT_FIELDS)
def test_malformed_certificate_is_refused_with_a_precise_reason(
    vectors: dict[str, Any], field: str, value: Any, reason: str
) -> None:
    cert = {**vectors["cert"], field: value}
    if all(
        isinstance(cert[name], str) and "\n" not in cert[name] for name in ("device", "pseudonym", "key", "not_after")
    ):
        # Signed properly, so the refusal is for the stated reason and not the signature.
        cert = resign(cert, vectors)
    with pytest.raises(CertificateError) as refused:
        verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY)
    assert refused.value.reason == reason


def test_certificate_with_extra_or_missing_fields_is_refused(vectors: dict[str, Any]) -> None:
    for cert in ({**vectors["cert"], "admin": True}, {k: v for k, v in vectors["cert"].items() if k != "v"}):
        with pytest.raises(CertificateError) as refused:
            verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY)
        assert refused.value.reason == "bad_fields"
    with pytest.raises(CertificateError) as refused:
        verify_certificate([], org_public_raw(vectors), BEFORE_EXPIRY)  # type: ignore[arg-type]
    assert refused.value.reason == "not_object"


def test_forty_character_unicode_pseudonym_with_spaces_is_accepted(vectors: dict[str, Any]) -> None:
    cert = resign({**vectors["cert"], "pseudonym": "Zoë van ’t Hof " + "é" * 25}, vectors)
    assert len(cert["pseudonym"]) == 40
    assert verify_certificate(cert, org_public_raw(vectors), BEFORE_EXPIRY).pseudonym == cert["pseudonym"]


# --- Session derivation ---------------------------------------------------------------


def test_derive_session_refuses_reflected_or_foreign_keys(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    visitor = private_key_from_scalar_hex(handshake["visitor_private_scalar_hex"])
    vk, ck = b64d(handshake["vk"]), b64d(handshake["ck"])
    stranger = public_key_bytes(generate_private_key())
    with pytest.raises(ValueError, match="differ"):
        derive_session(visitor, vk, vk, vk, CHAT, 0)
    with pytest.raises(ValueError, match="handshake keys"):
        derive_session(visitor, stranger, vk, ck, CHAT, 0)
    with pytest.raises(ValueError, match="handshake keys"):
        derive_session(visitor, vk, vk, ck, CHAT, 0)


def test_each_epoch_and_chat_has_its_own_keys(vectors: dict[str, Any]) -> None:
    handshake = vectors["handshake"]
    visitor = private_key_from_scalar_hex(handshake["visitor_private_scalar_hex"])
    vk, ck = b64d(handshake["vk"]), b64d(handshake["ck"])
    first = derive_session(visitor, ck, vk, ck, CHAT, 0)
    assert derive_session(visitor, ck, vk, ck, CHAT, 1).k_v2c != first.k_v2c
    assert derive_session(visitor, ck, vk, ck, b64e(bytes(16)), 0).k_v2c != first.k_v2c
    assert first.k_v2c != first.k_c2v


# --- Messages ------------------------------------------------------------------------


def test_padding_lengths_and_limit() -> None:
    assert len(pad(b"")) == 256
    assert len(pad(b"x" * 255)) == 256
    assert len(pad(b"x" * 256)) == 512
    assert len(pad(b"x" * 16384)) == padded_length(16384) == 16640
    with pytest.raises(ValueError, match="16 KiB"):
        pad(b"x" * 16385)


@pytest.mark.parametrize(
    "padded",
    [
        b"",
        b"abc\x80",
        b"abc" + bytes(253),
        b"abc\x80" + bytes(251) + b"\x01",
        bytes(256),
        b"abc\x80" + bytes(252) + bytes(256),
        b"x" * 16385 + b"\x80" + bytes(16640 - 16386),
    ],
    ids=["empty", "not-a-block", "no-marker", "garbage-after", "all-zero", "extra-block", "too-long"],
)
def test_bad_padding_is_refused(padded: bytes) -> None:
    with pytest.raises(ValueError, match=r"padd|0x80"):
        unpad(padded)


def test_oversize_message_is_refused_by_sender_and_receiver(vectors: dict[str, Any]) -> None:
    key = vector_session(vectors).k_v2c
    with pytest.raises(ValueError, match="16 KiB"):
        encrypt_message(key, CHAT, 0, "v2c", 0, {"t": "text", "body": "x" * 16384})
    near_limit = {"t": "text", "body": "x" * (16384 - len('{"t":"text","body":""}'))}
    ct = encrypt_message(key, CHAT, 0, "v2c", 0, near_limit)
    assert decrypt_message(key, CHAT, 0, "v2c", 0, ct) == near_limit
    oversize = AESGCM(key).encrypt(
        message_nonce(0), b"{}" + b"\x80" + bytes(16640 + 256 - 3), message_aad(CHAT, 0, "v2c", 0)
    )
    with pytest.raises(MessageDecryptionError, match="too long"):
        decrypt_message(key, CHAT, 0, "v2c", 0, b64e(oversize))


def test_ciphertext_is_bound_to_chat_epoch_direction_seq_and_key(vectors: dict[str, Any]) -> None:
    keys = vector_session(vectors)
    ct = encrypt_message(keys.k_v2c, CHAT, 0, "v2c", 5, {"t": "text", "body": "hi"})
    assert decrypt_message(keys.k_v2c, CHAT, 0, "v2c", 5, ct) == {"t": "text", "body": "hi"}
    for key, chat, epoch, direction, seq in [
        (keys.k_c2v, CHAT, 0, "v2c", 5),
        (keys.k_v2c, b64e(bytes(16)), 0, "v2c", 5),
        (keys.k_v2c, CHAT, 1, "v2c", 5),
        (keys.k_v2c, CHAT, 0, "c2v", 5),
        (keys.k_v2c, CHAT, 0, "v2c", 6),
    ]:
        with pytest.raises(MessageDecryptionError, match="authenticate"):
            decrypt_message(key, chat, epoch, direction, seq, ct)  # type: ignore[arg-type]
    tampered = b64d(ct)
    with pytest.raises(MessageDecryptionError):
        decrypt_message(keys.k_v2c, CHAT, 0, "v2c", 5, b64e(tampered[:-1] + bytes([tampered[-1] ^ 1])))
    with pytest.raises(MessageDecryptionError, match="base64url"):
        decrypt_message(keys.k_v2c, CHAT, 0, "v2c", 5, ct + "=")


def test_plaintext_must_be_a_json_object(vectors: dict[str, Any]) -> None:
    key = vector_session(vectors).k_v2c
    aad = message_aad(CHAT, 0, "v2c", 0)
    for plaintext in (b"[1]", b"NaN", b"\xff\xfe", b'{"a":1'):
        sealed = b64e(AESGCM(key).encrypt(message_nonce(0), pad(plaintext), aad))
        with pytest.raises(MessageDecryptionError, match="JSON"):
            decrypt_message(key, CHAT, 0, "v2c", 0, sealed)
    with pytest.raises(ValueError, match="object"):
        encode_message(["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON"):
        encode_message({"t": float("nan")})


def test_nonce_is_twelve_byte_big_endian_seq() -> None:
    assert message_nonce(0) == bytes(12)
    assert message_nonce(0x0102) == bytes(10) + b"\x01\x02"
    assert message_nonce(2**53 - 1) == (2**53 - 1).to_bytes(12, "big")
    with pytest.raises(ValueError, match="seq"):
        message_nonce(2**53)


def test_receive_window_refuses_replay_and_reports_gaps() -> None:
    window = ReceiveWindow()
    assert window.advance(0) == 0
    assert window.advance(1) == 0
    with pytest.raises(ReplayedSequenceError):
        window.check(1)
    with pytest.raises(ReplayedSequenceError):
        window.advance(0)
    assert window.check(5) == 3
    assert window.next_seq == 2, "check must not move the window"
    assert window.advance(5) == 3
    assert window.next_seq == 6
    with pytest.raises(ReplayedSequenceError):
        window.advance(4)
    with pytest.raises(ValueError, match="seq"):
        window.check(-1)


def test_send_counter_never_repeats() -> None:
    counter = SendCounter()
    assert [counter.next_seq() for _ in range(4)] == [0, 1, 2, 3]


# --- Proof of work --------------------------------------------------------------------


def test_proof_of_work_limits() -> None:
    assert pow_leading_zero_bits(b"\x00\x00\x01") == 23
    assert pow_leading_zero_bits(b"\x80") == 0
    assert pow_leading_zero_bits(bytes(32)) == 256
    challenge = b"challenge"
    assert pow_check(challenge, b"", 0)
    assert not pow_check(challenge, bytes(33), 0), "a nonce longer than 32 bytes is refused even at 0 bits"
    nonce = pow_solve(challenge, 8)
    assert pow_check(challenge, nonce, 8)
    assert hashlib.sha256(challenge + nonce).digest()[0] == 0
    with pytest.raises(ValueError, match="bits"):
        pow_check(challenge, nonce, 257)


# --- Properties ------------------------------------------------------------------------

PROPERTY_KEYS = vector_session(load_protocol_vectors())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    body=st.text(max_size=600),
    extra=st.dictionaries(st.text(max_size=8).filter(lambda k: k not in {"t", "body"}), json_values, max_size=3),
    epoch=st.integers(0, 2**53 - 1),
    seq=st.integers(0, 2**53 - 1),
    direction=st.sampled_from(["v2c", "c2v"]),
)
def test_property_any_message_round_trips(
    body: str, extra: dict[str, Any], epoch: int, seq: int, direction: crypto.Direction
) -> None:
    message = {"t": "text", "body": body, **extra}
    try:
        encoded = encode_message(message)
    except ValueError:
        # Only lone surrogates cannot be UTF-8; everything else must round-trip.
        assert any(0xD800 <= ord(char) <= 0xDFFF for char in json.dumps(message, ensure_ascii=False))
        return
    key = PROPERTY_KEYS.key_for(direction)
    ct = encrypt_message(key, CHAT, epoch, direction, seq, message)
    assert len(b64d(ct)) == padded_length(len(encoded)) + 16
    assert decrypt_message(key, CHAT, epoch, direction, seq, ct) == message


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_property_padding_and_base64_round_trip(data: bytes) -> None:
    padded = pad(data)
    assert len(padded) % 256 == 0 and len(padded) > len(data)
    assert unpad(padded) == data
    assert b64d(b64e(data)) == data


B64_LIKE = st.text(alphabet="AEIMQUYcgkosw048BCDZaz9_-+/= \n\u00e9", max_size=12)


def decoded_length_the_long_way(text: str) -> int | None:
    """Independently of b64d_length: decode, encode again, and compare (None: not canonical base64url)."""
    import base64
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]*", text, re.ASCII) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return len(data) if crypto.b64e(data) == text else None


@settings(max_examples=2000, deadline=None)
@given(text=st.one_of(B64_LIKE, st.binary(max_size=40).map(crypto.b64e)))
def test_property_b64d_length_accepts_exactly_the_canonical_forms(text: str) -> None:
    """The schema checks a ciphertext's form and size with b64d_length, which does not decode (b64d uses it too)."""
    expected = decoded_length_the_long_way(text)
    if expected is None:
        with pytest.raises(ValueError, match="base64url"):
            crypto.b64d_length(text)
        with pytest.raises(ValueError, match="base64url"):
            b64d(text)
        return
    assert crypto.b64d_length(text) == expected == len(b64d(text))


@pytest.mark.parametrize("text", ["AA==", "AA=", "A", "AB+/", "AB C", "AB\n", "AB", "Zh", "AQ==", "AAB", "AAAAAB"])
def test_b64d_length_refuses_what_b64d_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64d(text)
    with pytest.raises(ValueError, match="base64url"):
        crypto.b64d_length(text)

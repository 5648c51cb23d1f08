"""securemessages.crypto reproduces docs/mailbox-vectors.json, and the envelope parser refuses what docs/mailbox.md
refuses (hypothesis included)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.protocol.crypto import (
    b64d,
    b64e,
    generate_private_key,
    private_key_from_scalar_hex,
    public_key_bytes,
    verify_certificate,
)
from securemessages import crypto, envelope, vectors
from securemessages.crypto import EnvelopeError

REPO = Path(__file__).resolve().parent.parent.parent
VECTORS: dict[str, Any] = json.loads((REPO / "docs" / "mailbox-vectors.json").read_text(encoding="utf-8"))
PROTOCOL: dict[str, Any] = json.loads((REPO / "docs" / "protocol-vectors.json").read_text(encoding="utf-8"))
CODENAME = VECTORS["codename"]


@pytest.fixture(scope="module")
def keys() -> crypto.CodenameKeys:
    return crypto.derive_codename_keys(CODENAME["input"])


# --- Every vector value --------------------------------------------------------------------------------


def test_codename_normalisation_and_derivation_match_the_vectors(keys: crypto.CodenameKeys) -> None:
    assert crypto.normalise_codename(CODENAME["input"]) == CODENAME["normalised"]
    assert keys.seed.hex() == CODENAME["seed_hex"]
    assert b64d(keys.thread).hex() == CODENAME["thread_hex"] and keys.thread == CODENAME["thread"]
    assert keys.access.hex() == CODENAME["access_hex"] and keys.access_b64 == CODENAME["access"]
    assert keys.access_hash == CODENAME["access_hash"]
    assert f"{keys.box_private.private_numbers().private_value:064x}" == CODENAME["box_private_scalar_hex"]
    assert f"{keys.sign_private.private_numbers().private_value:064x}" == CODENAME["sign_private_scalar_hex"]
    assert keys.mk == CODENAME["mk"] and keys.sk == CODENAME["sk"]
    assert crypto.scalar_from_bytes(bytes.fromhex(CODENAME["box_source_hex"])) == int(
        CODENAME["box_private_scalar_hex"], 16)


def test_the_same_words_written_differently_open_the_same_mailbox(keys: crypto.CodenameKeys) -> None:
    again = crypto.derive_codename_keys("anchor basil candle daisy eagle fossil glider hamlet")
    assert again.thread == keys.thread and again.access == keys.access and again.mk == keys.mk
    other = crypto.derive_codename_keys("anchor basil candle daisy eagle fossil glider hamlets")
    assert other.thread != keys.thread and other.access != keys.access
    assert crypto.normalise_codename("ÄNCHOR–basil…İx") == "nchor basil x"


def test_scalars_stay_inside_the_group() -> None:
    assert crypto.scalar_from_bytes(bytes(48)) == 1
    assert crypto.scalar_from_bytes(b"\xff" * 48) < crypto.P256_ORDER
    with pytest.raises(ValueError):
        crypto.scalar_from_bytes(bytes(32))


@pytest.mark.parametrize("name", ["visitor_message", "team_message"])
def test_message_vectors_seal_wrap_sign_and_open(keys: crypto.CodenameKeys, name: str) -> None:
    vector = VECTORS[name]
    content_key = bytes.fromhex(vector["content_key_hex"])
    message = json.loads(vector["plaintext_json"])
    thread, message_id, sender = keys.thread, vector["id"], vector["from"]
    assert crypto.body_aad(thread, message_id, sender).decode() == vector["aad"]
    assert crypto.seal_body(content_key, thread, message_id, sender, message) == vector["ct"]
    assert crypto.open_body(content_key, thread, message_id, sender, vector["ct"]) == message
    assert crypto.message_tbs(thread, message_id, sender, vector["ct"]).decode() == vector["tbs"]
    signer_raw = b64d(keys.sk) if sender == crypto.VISITOR else b64d(PROTOCOL["device"]["public"])
    assert crypto.verify_message(signer_raw, thread, message_id, sender, vector["ct"], vector["sig"])
    assert not crypto.verify_message(signer_raw, thread, message_id, sender, vector["ct"][:-4] + "AAAA", vector["sig"])
    own = {"mailbox": keys.box_private,
           VECTORS["device"]["device"]: private_key_from_scalar_hex(VECTORS["device"]["ek_private_scalar_hex"])}
    for wrap in vector["wraps"]:
        recipient_raw = public_key_bytes(own[wrap["recipient"]])
        again = crypto.wrap_content_key(content_key, recipient_raw, thread, message_id, wrap["recipient"],
                                        ephemeral=private_key_from_scalar_hex(wrap["ephemeral_private_scalar_hex"]))
        assert (again.epk, again.wk) == (wrap["epk"], wrap["wk"])
        assert crypto.unwrap_content_key(own[wrap["recipient"]], wrap, thread, message_id,
                                         wrap["recipient"]) == content_key
        with pytest.raises(EnvelopeError):
            crypto.unwrap_content_key(own[wrap["recipient"]], wrap, thread, vectors.REPLY_MESSAGE_ID
                                      if message_id != vectors.REPLY_MESSAGE_ID else vectors.THREAD_MESSAGE_ID,
                                      wrap["recipient"])


def test_device_encryption_key_binding_verifies_under_the_certified_device_key() -> None:
    device = VECTORS["device"]
    cert = verify_certificate(PROTOCOL["cert"], b64d(PROTOCOL["org"]["public"]), dt.date(2025, 6, 1))
    assert b64e(public_key_bytes(private_key_from_scalar_hex(device["ek_private_scalar_hex"]))) == device["ek"]
    assert crypto.ek_binding_tbs(device["device"], device["ek"]).decode() == device["ek_tbs"]
    assert crypto.verify_ek_binding(cert.device_public_raw, device["device"], device["ek"], device["ek_sig"])
    other_ek = b64e(public_key_bytes(generate_private_key()))
    assert not crypto.verify_ek_binding(cert.device_public_raw, device["device"], other_ek, device["ek_sig"])


def test_the_vector_file_is_what_the_generator_makes() -> None:
    made = vectors.make_vectors()
    randomised = {("device", "ek_sig"), ("visitor_message", "sig"), ("team_message", "sig")}
    for section, fields in VECTORS.items():
        if not isinstance(fields, dict):
            assert made[section] == fields
            continue
        for field, value in fields.items():
            if (section, field) not in randomised:
                assert made[section][field] == value, f"{section}.{field}"


def test_codenames_are_drawn_from_the_list() -> None:
    words = [f"w{n:04d}" for n in range(2048)]
    codename = crypto.make_codename(words)
    assert len(codename.split(" ")) == 8 and set(codename.split(" ")) <= set(words)
    with pytest.raises(ValueError):
        crypto.make_codename(["a", "a"])


# --- The envelope parser ------------------------------------------------------------------------------------


def good_envelope(keys: crypto.CodenameKeys, devices: int = 1) -> dict[str, Any]:
    recipients = {"mailbox": public_key_bytes(keys.box_private)}
    for _ in range(devices):
        recipients[crypto.new_message_id()] = public_key_bytes(generate_private_key())
    return envelope.build_envelope(keys.thread, crypto.VISITOR, keys.sign_private, {"t": "text", "body": "hoi"},
                                   recipients)


def test_a_built_envelope_parses_and_opens(keys: crypto.CodenameKeys) -> None:
    built = good_envelope(keys, devices=3)
    parsed = envelope.parse_envelope(built)
    assert parsed.sender == "visitor" and len(parsed.keys) == 4
    content_key = crypto.unwrap_content_key(keys.box_private, built["keys"]["mailbox"], keys.thread, built["id"],
                                            "mailbox")
    assert crypto.open_body(content_key, keys.thread, built["id"], "visitor", built["ct"]) == {"t": "text",
                                                                                             "body": "hoi"}


BREAKAGES = {
    "extra field": lambda e: e.update(extra=1),
    "missing sig": lambda e: e.pop("sig"),
    "version 2": lambda e: e.update(v=2),
    "version true": lambda e: e.update(v=True),
    "short id": lambda e: e.update(id=b64e(bytes(15))),
    "padded id": lambda e: e.update(id=e["id"] + "=="),
    "sender unknown": lambda e: e.update({"from": "counsellor"}),
    "ct not padded": lambda e: e.update(ct=b64e(bytes(300))),
    "ct too long": lambda e: e.update(ct=b64e(bytes(16640 + 16 + 256))),
    "ct not text": lambda e: e.update(ct=12),
    "sig short": lambda e: e.update(sig=b64e(bytes(63))),
    "no mailbox wrap": lambda e: e["keys"].pop("mailbox"),
    "only the mailbox": lambda e: e.update(keys={"mailbox": e["keys"]["mailbox"]}),
    "wrap off curve": lambda e: e["keys"]["mailbox"].update(epk=b64e(b"\x04" + bytes(64))),
    "wrap short": lambda e: e["keys"]["mailbox"].update(wk=b64e(bytes(47))),
    "wrap extra": lambda e: e["keys"]["mailbox"].update(x="y"),
    "bad recipient": lambda e: e["keys"].update({"everyone": e["keys"]["mailbox"]}),
    "too many recipients": lambda e: e["keys"].update(
        {crypto.new_message_id(): e["keys"]["mailbox"] for _ in range(64)}),
    "keys a list": lambda e: e.update(keys=[]),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_the_parser_refuses_each_malformed_envelope(keys: crypto.CodenameKeys, name: str) -> None:
    broken = copy.deepcopy(good_envelope(keys))
    BREAKAGES[name](broken)
    with pytest.raises(EnvelopeError):
        envelope.parse_envelope(broken)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(envelope.ENVELOPE_FIELDS), "x"]), json_values, max_size=7))
def test_hypothesis_arbitrary_json_is_refused_with_envelope_error_only(data: dict[str, Any]) -> None:
    # Whatever arrives, the parser answers with EnvelopeError (a 400), never another exception (a 500).
    with pytest.raises(EnvelopeError):
        envelope.parse_envelope(data)
    with pytest.raises(EnvelopeError):
        envelope.parse_new_thread(data)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(sorted(envelope.ENVELOPE_FIELDS)), value=json_values)
def test_hypothesis_one_field_replaced_is_refused_or_still_valid(keys: crypto.CodenameKeys, field: str,
                                                                  value: Any) -> None:
    built = good_envelope(keys)
    mutated = {**built, field: value}
    try:
        parsed = envelope.parse_envelope(mutated)
    except EnvelopeError:
        return
    # Only a replacement that happens to be valid gets through, and then it says what it carried.
    assert getattr(parsed, {"from": "sender"}.get(field, field), None) is not None or field in {"v", "keys"}


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_hypothesis_random_ciphertext_never_opens(keys: crypto.CodenameKeys, noise: bytes) -> None:
    with pytest.raises((EnvelopeError, ValueError)):
        crypto.open_body(bytes(32), keys.thread, vectors.THREAD_MESSAGE_ID, "visitor", b64e(noise))

"""Protocol v2 in Python: the visitor's identity key, message ids and receipts, hand-over bundles, held to the
`v2` vectors of docs/protocol-vectors.json (tests/browser/test_protocol_js_vectors.py holds the browser to them)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from chat.protocol import crypto
from tests.unit.conftest import load_protocol_vectors

TODAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return load_protocol_vectors()


def session(vectors: dict[str, Any]) -> crypto.SessionKeys:
    h = vectors["handshake"]
    visitor = crypto.private_key_from_scalar_hex(h["visitor_private_scalar_hex"])
    return crypto.derive_session(visitor, crypto.b64d(h["ck"]), crypto.b64d(h["vk"]), crypto.b64d(h["ck"]), h["chat"],
                                 h["epoch"])


# --- the identity key ----------------------------------------------------------------------------------------


def test_identity_key_vector(vectors: dict[str, Any]) -> None:
    identity = vectors["v2"]["identity"]
    key = crypto.private_key_from_scalar_hex(identity["private_scalar_hex"])
    assert crypto.b64e(crypto.public_key_bytes(key)) == identity["ik"]
    assert crypto.visitor_key_tbs(identity["ik"], identity["vk"]) == identity["tbs_vk"].encode()
    assert crypto.verify_visitor_key(identity["ik"], identity["vk"], identity["vsig"])
    ours = crypto.sign_visitor_key(key, identity["vk"])
    assert crypto.verify_visitor_key(identity["ik"], identity["vk"], ours)


def test_a_foreign_or_malformed_visitor_key_signature_is_refused(vectors: dict[str, Any]) -> None:
    identity = vectors["v2"]["identity"]
    other_vk = crypto.b64e(crypto.public_key_bytes(crypto.generate_private_key()))
    other_ik = crypto.b64e(crypto.public_key_bytes(crypto.generate_private_key()))
    assert not crypto.verify_visitor_key(identity["ik"], other_vk, identity["vsig"])  # a swapped epoch key
    assert not crypto.verify_visitor_key(other_ik, identity["vk"], identity["vsig"])  # a swapped identity
    assert not crypto.verify_visitor_key(identity["ik"], identity["vk"], identity["vsig"][:-2] + "AA")
    assert not crypto.verify_visitor_key(identity["ik"], identity["vk"] + "\n", identity["vsig"])
    assert not crypto.verify_visitor_key("not a key", identity["vk"], identity["vsig"])
    assert not crypto.verify_visitor_key(identity["ik"], identity["vk"], "")


# --- message ids and receipts --------------------------------------------------------------------------------


def test_v2_message_vectors_encrypt_and_decrypt(vectors: dict[str, Any]) -> None:
    keys = session(vectors)
    h = vectors["handshake"]
    for message in vectors["v2"]["messages"]:
        plain = crypto.decrypt_message(keys.key_for(message["dir"]), h["chat"], h["epoch"], message["dir"],
                                       message["seq"], message["ct"])
        assert crypto.encode_message(plain).decode() == message["plaintext_json"]
        assert crypto.encrypt_message(keys.key_for(message["dir"]), h["chat"], h["epoch"], message["dir"],
                                      message["seq"], plain) == message["ct"]
    text, receipt = (crypto.decrypt_message(keys.key_for(m["dir"]), h["chat"], h["epoch"], m["dir"], m["seq"], m["ct"])
                     for m in vectors["v2"]["messages"])
    assert crypto.receipt_ids(receipt) == [text["id"]]


def test_message_ids_and_receipts_refuse_what_is_not_theirs() -> None:
    ids = [crypto.new_message_id() for _ in range(64)]
    assert len(set(ids)) == 64 and all(crypto.is_message_id(value) for value in ids)
    assert crypto.receipt_ids(crypto.receipt_message(ids)) == ids
    for bad in ([], [*ids, crypto.new_message_id()], ["short"], [crypto.b64e(bytes(9))]):
        with pytest.raises(ValueError, match="receipt"):
            crypto.receipt_message(bad)
    with pytest.raises(ValueError, match="id"):
        crypto.text_message("hi", "not-an-id")
    assert crypto.receipt_ids({"t": "text", "ids": ids}) == []
    assert crypto.receipt_ids({"t": "receipt", "ids": "x"}) == []
    assert crypto.receipt_ids({"t": "receipt", "ids": [*ids, ids[0]]}) == []  # 65: too many
    assert crypto.receipt_ids({"t": "receipt", "ids": [ids[0], 7, "bad"]}) == [ids[0]]


# --- hand-over bundles ---------------------------------------------------------------------------------------


def recipient_key(vectors: dict[str, Any]) -> Any:
    return crypto.private_key_from_scalar_hex(vectors["v2"]["handover"]["recipient"]["ek_private_scalar_hex"])


def test_handover_bundle_vector(vectors: dict[str, Any]) -> None:
    handover = vectors["v2"]["handover"]
    recipient = handover["recipient"]
    ephemeral = crypto.private_key_from_scalar_hex(handover["ephemeral_private_scalar_hex"])
    assert crypto.b64e(crypto.public_key_bytes(ephemeral)) == handover["ephemeral_public"]
    device = crypto.private_key_from_scalar_hex(vectors["device"]["private_scalar_hex"])
    sealed = crypto.seal_bundle(handover["content"], handover["chat"],
                                {recipient["device"]: crypto.b64d(recipient["ek"])}, device, vectors["cert"]["device"],
                                vectors["cert"], content_key=bytes.fromhex(handover["content_key_hex"]),
                                ephemeral={recipient["device"]: ephemeral})
    assert sealed["ct"] == handover["bundle"]["ct"] and sealed["wraps"] == handover["bundle"]["wraps"]
    assert crypto.bundle_tbs(handover["chat"], vectors["cert"]["device"], sealed["ct"]) == handover["tbs_sig"].encode()
    content, sender = crypto.open_bundle(handover["bundle"], handover["chat"], recipient["device"],
                                         recipient_key(vectors), crypto.b64d(vectors["org"]["public"]), TODAY)
    assert content == handover["content"]
    assert sender.pseudonym == vectors["cert"]["pseudonym"]


@pytest.mark.parametrize("change", ["ct", "wk", "sig", "cert", "device", "chat", "other_device", "org"])
def test_an_altered_or_foreign_bundle_does_not_open(vectors: dict[str, Any], change: str) -> None:
    handover = vectors["v2"]["handover"]
    bundle = copy.deepcopy(handover["bundle"])
    chat, device = handover["chat"], handover["recipient"]["device"]
    org = crypto.b64d(vectors["org"]["public"])
    if change == "ct":
        bundle["ct"] = crypto.b64e(bytes(len(crypto.b64d(bundle["ct"]))))
    elif change == "wk":
        bundle["wraps"][0]["wk"] = crypto.b64e(bytes(48))
    elif change == "sig":
        bundle["sig"] = crypto.b64e(bytes(64))
    elif change == "cert":
        bundle["cert"]["pseudonym"] = "Mallory"
    elif change == "device":
        bundle["device"] = crypto.b64e(bytes(16))
    elif change == "chat":
        chat = crypto.b64e(bytes(16))
    elif change == "other_device":
        device = crypto.b64e(bytes(range(1, 17)))
    elif change == "org":
        org = crypto.public_key_bytes(crypto.generate_private_key())
    with pytest.raises(crypto.BundleError):
        crypto.open_bundle(bundle, chat, device, recipient_key(vectors), org, TODAY)


def test_a_server_cannot_substitute_a_bundle_sealed_to_the_same_public_key(vectors: dict[str, Any]) -> None:
    """The receiving device's encryption key is public: anyone can seal to it. Only a certified device's signature
    makes a bundle count, so a server that seals its own (with a visitor identity key of its choosing) is refused."""
    handover = vectors["v2"]["handover"]
    recipient = handover["recipient"]
    forger = crypto.generate_private_key()  # not certified by the organisation
    forged_content = {**handover["content"], "ik": crypto.b64e(crypto.public_key_bytes(crypto.generate_private_key()))}
    forged = crypto.seal_bundle(forged_content, handover["chat"], {recipient["device"]: crypto.b64d(recipient["ek"])},
                                forger, vectors["cert"]["device"], vectors["cert"])
    with pytest.raises(crypto.BundleError, match="signature"):
        crypto.open_bundle(forged, handover["chat"], recipient["device"], recipient_key(vectors),
                           crypto.b64d(vectors["org"]["public"]), TODAY)


def test_a_bundle_has_a_size_limit(vectors: dict[str, Any]) -> None:
    handover = vectors["v2"]["handover"]
    device = crypto.private_key_from_scalar_hex(vectors["device"]["private_scalar_hex"])
    recipients = {handover["recipient"]["device"]: crypto.b64d(handover["recipient"]["ek"])}
    too_long = {"note": "x" * crypto.MAX_BUNDLE_PLAINTEXT_BYTES}
    with pytest.raises(ValueError, match="longer"):
        crypto.seal_bundle(too_long, handover["chat"], recipients, device, vectors["cert"]["device"], vectors["cert"])
    with pytest.raises(ValueError, match="1 to 8"):
        crypto.seal_bundle({}, handover["chat"], {}, device, vectors["cert"]["device"], vectors["cert"])

"""Make docs/mailbox-vectors.json: fixed inputs for every step of docs/mailbox.md, and what they must give.

    python -m securemessages.vectors > docs/mailbox-vectors.json

Everything is deterministic except the two ECDSA signatures (ECDSA draws a fresh nonce), which a test checks
by verifying them. The counsellor device is the one of docs/protocol-vectors.json, certified by its org key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from chat.protocol.crypto import (
    b64d,
    b64e,
    ecdh_shared_secret,
    encode_message,
    pad,
    private_key_from_scalar_hex,
    public_key_bytes,
)
from securemessages import crypto

DOCS = Path(__file__).resolve().parent.parent / "docs"
CODENAME_INPUT = "  Anchor-BASIL candle\tdaisy,  eagle fossil\nglider HAMLET "
THREAD_MESSAGE_ID = "AAECAwQFBgcICQoLDA0ODw"
REPLY_MESSAGE_ID = "EBESExQVFhcYGRobHB0eHw"
CONTENT_KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
REPLY_CONTENT_KEY_HEX = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
EPHEMERAL_SCALARS = {"mailbox": "e1", "device": "e2", "reply-mailbox": "e3", "reply-device": "e4"}
DEVICE_EK_SCALAR_HEX = "0000000000000000000000000000000000000000000000000000000000ec0dee"
VISITOR_TEXT = {"t": "text", "body": "Ik wil graag praten, maar niet live. Is dat goed?"}
REPLY_TEXT = {"t": "text", "body": "Dank je voor je bericht. Ja, dat is goed: schrijf wanneer je wilt."}


def protocol_vectors() -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads((DOCS / "protocol-vectors.json").read_text(encoding="utf-8"))
    return vectors


def _scalar(short_hex: str) -> str:
    return short_hex.rjust(64, "0")


def wrap_vector(content_key: bytes, recipient_raw: bytes, thread: str, message_id: str, recipient: str,
                scalar_hex: str) -> dict[str, Any]:
    ephemeral = private_key_from_scalar_hex(scalar_hex)
    wrap = crypto.wrap_content_key(content_key, recipient_raw, thread, message_id, recipient, ephemeral=ephemeral)
    epk_raw = b64d(wrap.epk)
    shared = ecdh_shared_secret(ephemeral, recipient_raw)
    return {
        "recipient": recipient,
        "ephemeral_private_scalar_hex": scalar_hex,
        "epk": wrap.epk,
        "z_hex": shared.hex(),
        "salt_hex": hashlib.sha256(epk_raw + recipient_raw).hexdigest(),
        "info": f"helpline-mailbox-v1\nwrap\n{thread}\n{message_id}\n{recipient}",
        "kek_hex": crypto._kek(shared, epk_raw, recipient_raw, thread, message_id, recipient).hex(),
        "wk": wrap.wk,
    }


def message_vector(keys: crypto.CodenameKeys, message_id: str, sender: str, signer: Any, content_key_hex: str,
                   message: dict[str, str], wraps: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
    content_key = bytes.fromhex(content_key_hex)
    ct = crypto.seal_body(content_key, keys.thread, message_id, sender, message)
    return {
        "id": message_id,
        "from": sender,
        "content_key_hex": content_key_hex,
        "plaintext_json": encode_message(message).decode("utf-8"),
        "padded_len": len(pad(encode_message(message))),
        "aad": crypto.body_aad(keys.thread, message_id, sender).decode("utf-8"),
        "ct": ct,
        "tbs": crypto.message_tbs(keys.thread, message_id, sender, ct).decode("utf-8"),
        "sig": crypto.sign_message(signer, keys.thread, message_id, sender, ct),
        "wraps": [wrap_vector(content_key, raw, keys.thread, message_id, name, _scalar(scalar))
                  for name, (raw, scalar) in wraps.items()],
    }


def make_vectors() -> dict[str, Any]:
    protocol = protocol_vectors()
    keys = crypto.derive_codename_keys(CODENAME_INPUT)
    normalised = crypto.normalise_codename(CODENAME_INPUT)
    device = protocol["cert"]["device"]
    device_private = private_key_from_scalar_hex(protocol["device"]["private_scalar_hex"])
    ek_private = private_key_from_scalar_hex(DEVICE_EK_SCALAR_HEX)
    ek = b64e(public_key_bytes(ek_private))
    mailbox_raw = public_key_bytes(keys.box_private)
    ek_raw = public_key_bytes(ek_private)

    def part(label: str, length: int) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(hashes.SHA256(), length, b"", f"helpline-mailbox-v1\n{label}".encode()).derive(keys.seed).hex()

    return {
        "about": "Test vectors for docs/mailbox.md (mailbox v1). Scalars are P-256 private keys in hex. The org "
                 "key, the device key and its certificate are those of docs/protocol-vectors.json. Signatures "
                 "(sig, ek_sig) are randomised ECDSA: check that they verify, not their bytes.",
        "codename": {
            "input": CODENAME_INPUT,
            "normalised": normalised,
            "pbkdf2_salt": "helpline-mailbox-v1",
            "pbkdf2_iterations": crypto.PBKDF2_ITERATIONS,
            "seed_hex": keys.seed.hex(),
            "thread_hex": part("thread", 16),
            "thread": keys.thread,
            "access_hex": keys.access.hex(),
            "access": keys.access_b64,
            "access_hash": keys.access_hash,
            "box_source_hex": part("box", 48),
            "box_private_scalar_hex": f"{keys.box_private.private_numbers().private_value:064x}",
            "mk": keys.mk,
            "sign_source_hex": part("sign", 48),
            "sign_private_scalar_hex": f"{keys.sign_private.private_numbers().private_value:064x}",
            "sk": keys.sk,
        },
        "device": {
            "device": device,
            "ek_private_scalar_hex": DEVICE_EK_SCALAR_HEX,
            "ek": ek,
            "ek_tbs": crypto.ek_binding_tbs(device, ek).decode("utf-8"),
            "ek_sig": crypto.sign_ek_binding(device_private, device, ek),
        },
        "visitor_message": message_vector(
            keys, THREAD_MESSAGE_ID, crypto.VISITOR, keys.sign_private, CONTENT_KEY_HEX, VISITOR_TEXT,
            {"mailbox": (mailbox_raw, EPHEMERAL_SCALARS["mailbox"]), device: (ek_raw, EPHEMERAL_SCALARS["device"])}),
        "team_message": message_vector(
            keys, REPLY_MESSAGE_ID, device, device_private, REPLY_CONTENT_KEY_HEX, REPLY_TEXT,
            {"mailbox": (mailbox_raw, EPHEMERAL_SCALARS["reply-mailbox"]),
             device: (ek_raw, EPHEMERAL_SCALARS["reply-device"])}),
    }


if __name__ == "__main__":
    print(json.dumps(make_vectors(), indent=2, ensure_ascii=False))

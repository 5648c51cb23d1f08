"""An independent reading of docs/mailbox.md: derive, unwrap and open with nothing but hashlib, hmac and the
`cryptography` primitives, never securemessages.crypto, and reproduce the vectors with it.

`open_stored` is also what the live test uses to decrypt an envelope as the server stored it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent.parent / "docs" / "mailbox-vectors.json").read_text(encoding="utf-8"))
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hkdf(ikm: bytes, salt: bytes, info: str, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info.encode()).derive(ikm)


def derive(codename: str) -> dict[str, Any]:
    """§2, read literally."""
    words = []
    current = ""
    for ch in codename:
        lowered = ch.lower() if "A" <= ch <= "Z" else ch
        if "a" <= lowered <= "z":
            current += lowered
        elif current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    normalised = " ".join(words)
    seed = hashlib.pbkdf2_hmac("sha256", normalised.encode(), b"helpline-mailbox-v1", 600_000, 32)

    def part(label: str, length: int) -> bytes:
        return hkdf(seed, b"", f"helpline-mailbox-v1\n{label}", length)

    box = ec.derive_private_key(int.from_bytes(part("box", 48), "big") % (N - 1) + 1, ec.SECP256R1())
    return {"normalised": normalised, "seed": seed, "thread": b64(part("thread", 16)), "access": part("access", 32),
            "box": box}


def point(key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    return b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def open_stored(box: ec.EllipticCurvePrivateKey, thread: str, message_id: str, sender: str, ct: str,
                epk: str, wk: str, recipient: str = "mailbox") -> dict[str, Any]:
    """§3 and §4, read literally: unwrap K for `recipient`, then open the body and strip the padding."""
    epk_raw = unb64(epk)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk_raw)
    shared = box.exchange(ec.ECDH(), peer)
    salt = hashlib.sha256(epk_raw + point(box)).digest()
    kek = hkdf(shared, salt, f"helpline-mailbox-v1\nwrap\n{thread}\n{message_id}\n{recipient}", 32)
    content_key = AESGCM(kek).decrypt(bytes(12), unb64(wk), b"")
    padded = AESGCM(content_key).decrypt(bytes(12), unb64(ct),
                                         f"helpline-mailbox-body-v1\n{thread}\n{message_id}\n{sender}".encode())
    body = padded.rstrip(b"\x00")
    assert body.endswith(b"\x80") and len(padded) % 256 == 0
    message: dict[str, Any] = json.loads(body[:-1].decode())
    return message


def test_an_independent_derivation_gives_the_vector_values() -> None:
    codename = VECTORS["codename"]
    derived = derive(codename["input"])
    assert derived["normalised"] == codename["normalised"]
    assert derived["seed"].hex() == codename["seed_hex"]
    assert derived["thread"] == codename["thread"]
    assert derived["access"].hex() == codename["access_hex"]
    assert hmac.compare_digest(hashlib.sha256(derived["access"]).hexdigest(), codename["access_hash"])
    assert b64(point(derived["box"])) == codename["mk"]


def test_an_independent_reader_opens_both_vector_messages() -> None:
    derived = derive(VECTORS["codename"]["input"])
    for name in ("visitor_message", "team_message"):
        vector = VECTORS[name]
        wrap = next(w for w in vector["wraps"] if w["recipient"] == "mailbox")
        opened = open_stored(derived["box"], derived["thread"], vector["id"], vector["from"], vector["ct"],
                             wrap["epk"], wrap["wk"])
        assert opened == json.loads(vector["plaintext_json"])

"""In Chromium: protocol.js reproduces every value in vectors.json, refuses what Python refuses, and interoperates with it."""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chat.protocol.crypto import (
    CertificateError,
    b64d,
    b64e,
    cert_tbs,
    decrypt_message,
    derive_session,
    encrypt_message,
    generate_private_key,
    handshake_tbs,
    load_public_key,
    make_certificate,
    open_bundle,
    pow_check,
    private_key_from_scalar_hex,
    public_key_bytes,
    sign_handshake,
    sign_raw,
    verify_certificate,
    verify_handshake,
    verify_raw,
    verify_visitor_key,
    work_check,
)
from chat.protocol.crypto import private_key_from_scalar_hex as crypto_private
from tests.unit.conftest import load_protocol_vectors

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent.parent
STATIC_ROOT = REPO / "chat" / "static"
PAGES_ROOT = Path(__file__).resolve().parent / "pages"
PROTOCOL_JS = STATIC_ROOT / "chat" / "protocol.js"
MODULE_URL = "/static/chat/protocol.js"
VECTORS = load_protocol_vectors()
TODAY = "2025-06-01"


class StaticFilesHandler(SimpleHTTPRequestHandler):
    """Serves /static/ from chat/static (as Django's STATIC_URL would) and /pages/ from the test pages."""

    def translate_path(self, path: str) -> str:
        for prefix, root in (("/static/", STATIC_ROOT), ("/pages/", PAGES_ROOT)):
            if path.startswith(prefix):
                relative = path[len(prefix) :].split("?", 1)[0]
                resolved = (root / relative).resolve()
                if resolved.is_relative_to(root):
                    return str(resolved)
        return str(PAGES_ROOT / "missing")

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(StaticFilesHandler, directory=str(PAGES_ROOT)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def protocol_page(browser: Any, static_server: str) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{static_server}/pages/protocol_vectors.html")
    page.evaluate(
        "() => { window.cspViolations = [];"
        " document.addEventListener('securitypolicyviolation', (event) => window.cspViolations.push("
        "event.violatedDirective)); }"
    )
    yield page
    context.close()


# Helpers available to every snippet: p (the module), hex/b64 of bytes, reasonOf (how a call was refused).
PRELUDE = f"""
const p = await import("{MODULE_URL}");
const hex = (bytes) => p.bytesToHex(bytes);
const reasonOf = async (call) => {{
  try {{ await call(); return "accepted"; }} catch (error) {{ return error.reason ?? error.name; }}
}};
"""


def run_js(page: Any, body: str, arg: Any = None) -> Any:
    """Run an async snippet in the page with protocol.js imported as `p`; returns what the snippet returns."""
    return page.evaluate(f"async (arg) => {{ {PRELUDE} {body} }}", arg)


# --- Every vector value --------------------------------------------------------------


def test_js_org_key_id_and_private_keys_from_scalars(protocol_page: Any) -> None:
    result = run_js(
        protocol_page,
        """
        const org = arg.org, device = arg.device;
        const deviceKey = await p.importPrivateKeyFromScalarHexForTests(
            device.private_scalar_hex, p.b64d(device.public), "ECDSA");
        const sig = await p.signRaw(deviceKey, new TextEncoder().encode("made in the browser"));
        return {keyId: await p.orgKeyId(p.b64d(org.public)), sig: p.b64e(sig)};
    """,
        VECTORS,
    )
    assert result["keyId"] == VECTORS["org"]["key_id"]
    device_public = load_public_key(b64d(VECTORS["device"]["public"]))
    assert verify_raw(device_public, b64d(result["sig"]), b"made in the browser"), "browser signature fails in Python"


def test_js_cert_tbs_and_vector_certificate(protocol_page: Any) -> None:
    result = run_js(
        protocol_page,
        """
        const checked = await p.verifyCertificate(arg.vectors.cert, arg.vectors.org.public, arg.today);
        const checkedByDate = await p.verifyCertificate(arg.vectors.cert, arg.vectors.org.public, new Date(Date.UTC(2030, 11, 31, 23, 59)));
        return {
            tbs: p.b64e(p.certTbs(arg.vectors.cert, arg.vectors.org.key_id)),
            device: checked.device, pseudonym: checked.pseudonym, key: p.b64e(checked.publicRaw),
            notAfter: checked.notAfter, lastDay: checkedByDate.pseudonym,
            dayAfter: await reasonOf(() => p.verifyCertificate(arg.vectors.cert, arg.vectors.org.public, new Date(Date.UTC(2031, 0, 1)))),
            badToday: await reasonOf(() => p.verifyCertificate(arg.vectors.cert, arg.vectors.org.public, "1 June 2025")),
        };
    """,
        {"vectors": VECTORS, "today": TODAY},
    )
    assert b64d(result["tbs"]) == VECTORS["cert_tbs"].encode("utf-8")
    assert result["device"] == VECTORS["cert"]["device"]
    assert result["pseudonym"] == "Sam" == result["lastDay"]
    assert result["key"] == VECTORS["device"]["public"]
    assert result["notAfter"] == "2030-12-31"
    assert result["dayAfter"] == "expired"
    assert result["badToday"] == "bad_today"


def test_js_handshake_tbs_and_vector_signature(protocol_page: Any) -> None:
    handshake = VECTORS["handshake"]
    result = run_js(
        protocol_page,
        """
        const h = arg.vectors.handshake;
        const checked = await p.verifyCertificate(arg.vectors.cert, arg.vectors.org.public, arg.today);
        return {
            tbs: p.b64e(p.handshakeTbs(h.chat, h.epoch, h.vk, h.ck)),
            good: await p.verifyHandshake(checked, h.chat, h.epoch, h.vk, h.ck, h.sig),
            goodByKey: await p.verifyHandshake(checked.publicKey, h.chat, h.epoch, h.vk, h.ck, h.sig),
            otherEpoch: await p.verifyHandshake(checked, h.chat, 1, h.vk, h.ck, h.sig),
            swapped: await p.verifyHandshake(checked, h.chat, h.epoch, h.ck, h.vk, h.sig),
            newline: await p.verifyHandshake(checked, h.chat, h.epoch, h.vk, h.ck + "\\n", h.sig),
        };
    """,
        {"vectors": VECTORS, "today": TODAY},
    )
    assert b64d(result["tbs"]) == handshake["tbs_hs"].encode("utf-8")
    assert result["good"] is True and result["goodByKey"] is True
    assert result["otherEpoch"] is False and result["swapped"] is False and result["newline"] is False


def test_js_shared_secret_salt_session_keys_and_safety_code(protocol_page: Any) -> None:
    handshake = VECTORS["handshake"]
    result = run_js(
        protocol_page,
        """
        const h = arg.handshake;
        const vk = p.b64d(h.vk), ck = p.b64d(h.ck);
        const visitor = await p.importPrivateKeyFromScalarHexForTests(h.visitor_private_scalar_hex, vk, "ECDH");
        const counsellor = await p.importPrivateKeyFromScalarHexForTests(h.counsellor_private_scalar_hex, ck, "ECDH");
        const raw = async (key) => hex(new Uint8Array(await crypto.subtle.exportKey("raw", key)));
        const sides = [];
        for (const [own, peer] of [[visitor, ck], [counsellor, vk]]) {
            const keys = await p.deriveSession(own, peer, vk, ck, h.chat, h.epoch, {extractable: true});
            sides.push({v2c: await raw(keys.kV2c), c2v: await raw(keys.kC2v), code: keys.safetyCode});
        }
        const production = await p.deriveSession(visitor, ck, vk, ck, h.chat, h.epoch);
        return {
            z: hex(await p.ecdhSharedSecret(visitor, ck)),
            zOther: hex(await p.ecdhSharedSecret(counsellor, vk)),
            salt: hex(await p.sessionSalt(vk, ck)),
            sides,
            productionExtractable: production.kV2c.extractable,
            reflected: await reasonOf(() => p.deriveSession(visitor, vk, vk, vk, h.chat, h.epoch)),
        };
    """,
        VECTORS,
    )
    assert result["z"] == result["zOther"] == handshake["z_hex"]
    assert result["salt"] == handshake["salt_hex"]
    for side in result["sides"]:
        assert side == {"v2c": handshake["k_v2c_hex"], "c2v": handshake["k_c2v_hex"], "code": handshake["safety_code"]}
    assert result["productionExtractable"] is False, "session keys must not be extractable outside tests"
    assert result["reflected"] == "bad_key"


# The handshake vector's session keys, and `key` for the direction of the message vector `m` (JS).
MESSAGE_KEY_JS = """
    const h = arg.vectors.handshake, m = arg.message;
    const vk = p.b64d(h.vk), ck = p.b64d(h.ck);
    const visitor = await p.importPrivateKeyFromScalarHexForTests(h.visitor_private_scalar_hex, vk, "ECDH");
    const keys = await p.deriveSession(visitor, ck, vk, ck, h.chat, h.epoch);
    const key = m.dir === "v2c" ? keys.kV2c : keys.kC2v;
"""


@pytest.mark.parametrize("message", VECTORS["messages"], ids=[f"{m['dir']}-{m['seq']}" for m in VECTORS["messages"]])
def test_js_message_vector_encrypts_and_decrypts(protocol_page: Any, message: dict[str, Any]) -> None:
    result = run_js(
        protocol_page,
        MESSAGE_KEY_JS + """
        const plaintext = JSON.parse(m.plaintext_json);
        const encoded = p.encodeMessage(plaintext);
        return {
            aad: new TextDecoder().decode(p.messageAad(h.chat, h.epoch, m.dir, m.seq)),
            encoded: new TextDecoder().decode(encoded),
            paddedLen: p.pad(encoded).length,
            ct: await p.encryptMessage(key, h.chat, h.epoch, m.dir, m.seq, plaintext),
            decrypted: await p.decryptMessage(key, h.chat, h.epoch, m.dir, m.seq, m.ct),
            wrongSeq: await reasonOf(() => p.decryptMessage(key, h.chat, h.epoch, m.dir, m.seq + 1, m.ct)),
        };
    """,
        {"vectors": VECTORS, "message": message},
    )
    assert result["aad"] == message["aad"]
    assert result["encoded"] == message["plaintext_json"]
    assert result["paddedLen"] == message["padded_len"]
    assert result["ct"] == message["ct"]
    assert result["decrypted"] == json.loads(message["plaintext_json"])
    assert result["wrongSeq"] == "undecryptable"


def test_js_proof_of_work_vector(protocol_page: Any) -> None:
    result = run_js(
        protocol_page,
        """
        const challenge = p.hexToBytes(arg.challenge_hex);
        const good = p.hexToBytes(arg.good_nonce_hex), bad = p.hexToBytes(arg.bad_nonce_hex);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([...challenge, ...good])));
        return {
            good: await p.powCheck(challenge, good, arg.bits),
            bad: await p.powCheck(challenge, bad, arg.bits),
            zeroBits: p.powLeadingZeroBits(digest),
            solved: hex(await p.powSolve(challenge, arg.bits)),
            longNonce: await p.powCheck(challenge, new Uint8Array(33), 0),
        };
    """,
        VECTORS["pow"],
    )
    assert result["good"] is True and result["bad"] is False
    assert result["zeroBits"] == VECTORS["pow"]["bits"]
    assert result["solved"] == VECTORS["pow"]["good_nonce_hex"]
    assert result["longNonce"] is False



def test_js_work_puzzle_vector(protocol_page: Any) -> None:
    result = run_js(
        protocol_page,
        """
        const challenge = p.hexToBytes(arg.challenge_hex);
        const good = p.hexToBytes(arg.good_nonce_hex), bad = p.hexToBytes(arg.bad_nonce_hex);
        const refused = async (f) => { try { await f(); return null; } catch (e) { return e.reason; } };
        return {
            digest: hex(await p.workDigest(challenge, good, arg.iterations)),
            good: await p.workCheck(challenge, good, arg.iterations, arg.bits),
            bad: await p.workCheck(challenge, bad, arg.iterations, arg.bits),
            solved: hex(await p.workSolve(challenge, arg.iterations, arg.bits)),
            solvedOneAtATime: hex(await p.workSolve(challenge, arg.iterations, arg.bits, {parallel: 1})),
            solvedFourAtATime: hex(await p.workSolve(challenge, arg.iterations, arg.bits, {parallel: 4})),
            longNonce: await p.workCheck(challenge, new Uint8Array(33), 1, 0),
            tooManyIterations: await refused(() => p.workCheck(challenge, good, 8193, 0)),
            tooManyBits: await refused(() => p.workCheck(challenge, good, 1, 41)),
        };
    """,
        VECTORS["work"],
    )
    assert result["digest"] == VECTORS["work"]["good_digest_hex"]
    assert result["good"] is True and result["bad"] is False
    assert result["solved"] == result["solvedOneAtATime"] == result["solvedFourAtATime"] == VECTORS["work"][
        "good_nonce_hex"]
    assert result["longNonce"] is False
    assert result["tooManyIterations"] == "bad_iterations" and result["tooManyBits"] == "bad_bits"

# --- Refusals, the same as Python's --------------------------------------------------------


def python_reason(cert: dict[str, Any], org_public: str, today: str) -> str:
    try:
        verify_certificate(cert, b64d(org_public), dt.date.fromisoformat(today))
    except CertificateError as error:
        return error.reason
    return "accepted"


def signed_variant(**changes: Any) -> dict[str, Any]:
    org_private = private_key_from_scalar_hex(VECTORS["org"]["private_scalar_hex"])
    cert = {**VECTORS["cert"], **changes}
    cert["sig"] = b64e(sign_raw(org_private, cert_tbs(cert, VECTORS["org"]["key_id"])))
    return cert


CERTIFICATE_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    # name: (certificate, pinned org key, today)
    "vector": (VECTORS["cert"], VECTORS["org"]["public"], TODAY),
    "tampered-device": ({**VECTORS["cert"], "device": "EBESExQVFhcYGRobHB0eHg"}, VECTORS["org"]["public"], TODAY),
    "tampered-pseudonym": ({**VECTORS["cert"], "pseudonym": "Sim"}, VECTORS["org"]["public"], TODAY),
    "tampered-key": ({**VECTORS["cert"], "key": VECTORS["handshake"]["ck"]}, VECTORS["org"]["public"], TODAY),
    "tampered-not-after": ({**VECTORS["cert"], "not_after": "2031-12-31"}, VECTORS["org"]["public"], TODAY),
    "tampered-sig": ({**VECTORS["cert"], "sig": b64e(bytes(64))}, VECTORS["org"]["public"], TODAY),
    "expired": (VECTORS["cert"], VECTORS["org"]["public"], "2031-01-01"),
    "last-day": (VECTORS["cert"], VECTORS["org"]["public"], "2030-12-31"),
    "wrong-org-key": (VECTORS["cert"], b64e(public_key_bytes(generate_private_key())), TODAY),
    "version-2": ({**VECTORS["cert"], "v": 2}, VECTORS["org"]["public"], TODAY),
    "version-string": ({**VECTORS["cert"], "v": "1"}, VECTORS["org"]["public"], TODAY),
    "extra-field": ({**VECTORS["cert"], "admin": True}, VECTORS["org"]["public"], TODAY),
    "missing-field": ({k: v for k, v in VECTORS["cert"].items() if k != "sig"}, VECTORS["org"]["public"], TODAY),
    "device-15-bytes": (signed_variant(device=b64e(bytes(15))), VECTORS["org"]["public"], TODAY),
    "device-padded": (signed_variant(device=VECTORS["cert"]["device"] + "=="), VECTORS["org"]["public"], TODAY),
    "pseudonym-empty": (signed_variant(pseudonym=""), VECTORS["org"]["public"], TODAY),
    "pseudonym-41": (signed_variant(pseudonym="x" * 41), VECTORS["org"]["public"], TODAY),
    "pseudonym-40-astral": (signed_variant(pseudonym="😀" * 40), VECTORS["org"]["public"], TODAY),
    "pseudonym-newline": ({**VECTORS["cert"], "pseudonym": "Sam\nAdmin"}, VECTORS["org"]["public"], TODAY),
    "pseudonym-bidi": (signed_variant(pseudonym="Sam\u202e"), VECTORS["org"]["public"], TODAY),
    "pseudonym-nbsp": (signed_variant(pseudonym="Sam\u00a0B"), VECTORS["org"]["public"], TODAY),
    "pseudonym-unicode": (signed_variant(pseudonym="Zoë ’t Hof"), VECTORS["org"]["public"], TODAY),
    "key-off-curve": (signed_variant(key=b64e(b"\x04" + bytes(64))), VECTORS["org"]["public"], TODAY),
    "not-after-30-feb": (signed_variant(not_after="2030-02-30"), VECTORS["org"]["public"], TODAY),
    "not-after-29-feb-leap": (signed_variant(not_after="2032-02-29"), VECTORS["org"]["public"], TODAY),
    "not-after-compact": (signed_variant(not_after="20301231"), VECTORS["org"]["public"], TODAY),
    "not-after-year-0": (signed_variant(not_after="0000-01-01"), VECTORS["org"]["public"], TODAY),
}


def test_js_refuses_certificates_for_the_same_reasons_as_python(protocol_page: Any) -> None:
    expected = {name: python_reason(*case) for name, case in CERTIFICATE_CASES.items()}
    # The cases must exercise refusals, not only acceptances, for the comparison to mean something.
    assert expected["expired"] == "expired" and expected["tampered-sig"] == "bad_signature"
    assert expected["wrong-org-key"] == "bad_signature" and expected["pseudonym-newline"] == "bad_pseudonym"
    assert expected["pseudonym-40-astral"] == "accepted" and expected["last-day"] == "accepted"
    js_reasons = run_js(
        protocol_page,
        """
        const reasons = {};
        for (const [name, [cert, org, today]] of Object.entries(arg)) {
            reasons[name] = await reasonOf(() => p.verifyCertificate(cert, org, today));
        }
        return reasons;
    """,
        CERTIFICATE_CASES,
    )
    assert js_reasons == expected


def test_js_refuses_bad_encodings_padding_replays_and_oversize(protocol_page: Any) -> None:
    result = run_js(
        protocol_page,
        """
        const h = arg.handshake;
        const zeros = (n) => new Uint8Array(n);
        const withMarker = (prefix, total) => { const b = new Uint8Array(total); b.set(prefix); b[prefix.length] = 0x80; return b; };
        const window_ = new p.ReceiveWindow();
        const counter = new p.SendCounter();
        const abc = new TextEncoder().encode("abc");
        return {
            b64Padding: await reasonOf(() => p.b64d("AA==")),
            b64Alphabet: await reasonOf(() => p.b64d("AB+/")),
            b64StrayBits: await reasonOf(() => p.b64d("AB")),
            b64Length: await reasonOf(() => p.b64d("A")),
            b64Canonical: p.bytesToHex(p.b64d("-_8")),
            newline: await reasonOf(() => p.joinFields("a", "b\\nc")),
            loneSurrogate: await reasonOf(() => p.joinFields("\\uD800")),
            joined: p.bytesToHex(p.joinFields("a", "é", "")),
            epochNegative: await reasonOf(() => p.handshakeTbs(h.chat, -1, h.vk, h.ck)),
            epochUnsafe: await reasonOf(() => p.handshakeTbs(h.chat, 2 ** 53, h.vk, h.ck)),
            shortChat: await reasonOf(() => p.messageAad(p.b64e(zeros(15)), 0, "v2c", 0)),
            badDirection: await reasonOf(() => p.messageAad(h.chat, 0, "x2y", 0)),
            padEmpty: p.pad(zeros(0)).length,
            pad255: p.pad(zeros(255)).length,
            pad256: p.pad(zeros(256)).length,
            padMax: p.pad(zeros(16384)).length,
            padOversize: await reasonOf(() => p.pad(zeros(16385))),
            unpadEmpty: await reasonOf(() => p.unpad(zeros(0))),
            unpadNotBlock: await reasonOf(() => p.unpad(withMarker(abc, 4))),
            unpadAllZero: await reasonOf(() => p.unpad(zeros(256))),
            unpadGarbage: await reasonOf(() => { const b = withMarker(abc, 256); b[255] = 1; return p.unpad(b); }),
            unpadExtraBlock: await reasonOf(() => p.unpad(withMarker(abc, 512))),
            unpadTooLong: await reasonOf(() => p.unpad(withMarker(zeros(16385), 16640))),
            unpadGood: p.bytesToHex(p.unpad(withMarker(abc, 256))),
            seqs: [window_.advance(0), window_.advance(1), window_.check(5), window_.nextSeq, window_.advance(5), window_.nextSeq],
            replay: await reasonOf(() => window_.advance(5)),
            replayOld: await reasonOf(() => window_.check(0)),
            nonce: p.bytesToHex(p.messageNonce(2 ** 53 - 1)),
            counter: [counter.nextSeq(), counter.nextSeq(), counter.nextSeq()],
            notObject: await reasonOf(() => p.encodeMessage([1, 2])),
        };
    """,
        VECTORS,
    )
    for name in ("b64Padding", "b64Alphabet", "b64StrayBits", "b64Length"):
        assert result[name] == "bad_base64", name
    assert result["b64Canonical"] == "fbff"
    assert result["newline"] == result["loneSurrogate"] == "bad_field"
    assert result["joined"] == b"a\n\xc3\xa9\n".hex()
    assert result["epochNegative"] == result["epochUnsafe"] == "bad_field"
    assert result["shortChat"] == "bad_chat" and result["badDirection"] == "bad_direction"
    assert (result["padEmpty"], result["pad255"], result["pad256"], result["padMax"]) == (256, 256, 512, 16640)
    assert result["padOversize"] == "too_long"
    for name in ("unpadEmpty", "unpadNotBlock", "unpadAllZero", "unpadGarbage", "unpadExtraBlock", "unpadTooLong"):
        assert result[name] == "bad_padding", name
    assert result["unpadGood"] == b"abc".hex()
    assert result["seqs"] == [0, 0, 3, 2, 3, 6]
    assert result["replay"] == result["replayOld"] == "replayed_seq"
    assert result["nonce"] == (2**53 - 1).to_bytes(12, "big").hex()
    assert result["counter"] == [0, 1, 2]
    assert result["notObject"] == "bad_message"


# --- Interoperation with the Python implementation -----------------------------------------


def test_browser_device_key_certified_and_verified_across_implementations(protocol_page: Any) -> None:
    chat = b64e(secrets.token_bytes(16))
    browser_side = run_js(
        protocol_page,
        """
        const device = await p.generateDeviceKeyPair();
        const visitor = await p.generateChatKeyPair();
        const counsellor = await p.generateChatKeyPair();
        window.interopDevice = device;
        const vk = p.b64e(visitor.publicRaw), ck = p.b64e(counsellor.publicRaw);
        return {
            deviceKey: p.b64e(device.publicRaw), vk, ck,
            privateExtractable: device.privateKey.extractable || visitor.privateKey.extractable,
            sig: await p.signHandshake(device.privateKey, arg.chat, 7, vk, ck),
        };
    """,
        {"chat": chat},
    )
    assert browser_side["privateExtractable"] is False
    org_private = private_key_from_scalar_hex(VECTORS["org"]["private_scalar_hex"])
    cert = make_certificate(
        org_private,
        b64e(secrets.token_bytes(16)),
        "Browser Device",
        b64d(browser_side["deviceKey"]),
        dt.date(2030, 1, 1),
    )
    vk, ck, sig = browser_side["vk"], browser_side["ck"], browser_side["sig"]
    assert verify_handshake(cert, chat, 7, vk, ck, sig), "a browser handshake signature must verify in Python"
    assert not verify_handshake(cert, chat, 8, vk, ck, sig)

    python_sig = sign_handshake(private_key_from_scalar_hex(VECTORS["device"]["private_scalar_hex"]), chat, 9, vk, ck)
    python_raw_sig = b64e(sign_raw(org_private, b"made in Python"))
    in_browser = run_js(
        protocol_page,
        """
        const checked = await p.verifyCertificate(arg.cert, arg.orgPublic, arg.today);
        const vectorCert = await p.verifyCertificate(arg.vectorCert, arg.orgPublic, arg.today);
        const orgKey = await p.importPublicKey(p.b64d(arg.orgPublic), "ECDSA");
        const data = new TextEncoder().encode("made in Python");
        return {
            certKeyMatches: p.b64e(checked.publicRaw) === p.b64e(window.interopDevice.publicRaw),
            pythonHandshake: await p.verifyHandshake(vectorCert, arg.chat, 9, arg.vk, arg.ck, arg.pythonSig),
            pythonHandshakeOtherEpoch: await p.verifyHandshake(vectorCert, arg.chat, 10, arg.vk, arg.ck, arg.pythonSig),
            pythonRaw: await p.verifyRaw(orgKey, p.b64d(arg.pythonRawSig), data),
            pythonRawTampered: await p.verifyRaw(orgKey, p.b64d(arg.pythonRawSig), new TextEncoder().encode("made in Python!")),
        };
    """,
        {
            "cert": cert,
            "vectorCert": VECTORS["cert"],
            "orgPublic": VECTORS["org"]["public"],
            "today": TODAY,
            "chat": chat,
            "vk": vk,
            "ck": ck,
            "pythonSig": python_sig,
            "pythonRawSig": python_raw_sig,
        },
    )
    assert in_browser == {
        "certKeyMatches": True,
        "pythonHandshake": True,
        "pythonHandshakeOtherEpoch": False,
        "pythonRaw": True,
        "pythonRawTampered": False,
    }


def test_messages_cross_between_python_and_browser(protocol_page: Any) -> None:
    chat = b64e(secrets.token_bytes(16))
    epoch = 2
    visitor = run_js(
        protocol_page,
        """
        const pair = await p.generateChatKeyPair();
        window.interopVisitor = pair;
        return p.b64e(pair.publicRaw);
    """,
    )
    counsellor_private = generate_private_key()
    vk_raw, ck_raw = b64d(visitor), public_key_bytes(counsellor_private)
    python_keys = derive_session(counsellor_private, vk_raw, vk_raw, ck_raw, chat, epoch)
    from_python = [
        {"t": "text", "body": "Hallo, ik ben er. Neem je tijd ✓ 😀"},
        {"t": "text", "body": "x" * 5000, "extra": {"n": [1, None, True]}},
    ]
    cts = [
        encrypt_message(python_keys.k_c2v, chat, epoch, "c2v", seq, m)
        for seq, m in ((0, from_python[0]), (3, from_python[1]))
    ]
    browser_side = run_js(
        protocol_page,
        """
        const pair = window.interopVisitor;
        const keys = await p.deriveSession(pair.privateKey, p.b64d(arg.ck), pair.publicRaw, p.b64d(arg.ck), arg.chat, arg.epoch);
        const window_ = new p.ReceiveWindow();
        const received = [];
        for (const [seq, ct] of [[0, arg.cts[0]], [3, arg.cts[1]]]) {
            const gap = window_.check(seq);
            received.push({message: await p.decryptMessage(keys.kC2v, arg.chat, arg.epoch, "c2v", seq, ct), gap});
            window_.advance(seq);
        }
        const counter = new p.SendCounter();
        const sent = [];
        for (const message of arg.toSend) {
            const seq = counter.nextSeq();
            sent.push([seq, await p.encryptMessage(keys.kV2c, arg.chat, arg.epoch, "v2c", seq, message)]);
        }
        return {code: keys.safetyCode, received, sent,
                replay: await reasonOf(() => window_.check(3))};
    """,
        {
            "ck": b64e(ck_raw),
            "chat": chat,
            "epoch": epoch,
            "cts": cts,
            "toSend": [{"t": "text", "body": "Dank je. Ça va — 🙂"}, {"t": "typing-hint", "body": ""}],
        },
    )
    assert browser_side["code"] == python_keys.safety_code
    assert browser_side["received"] == [{"message": from_python[0], "gap": 0}, {"message": from_python[1], "gap": 2}]
    assert browser_side["replay"] == "replayed_seq"
    decrypted = [decrypt_message(python_keys.k_v2c, chat, epoch, "v2c", seq, ct) for seq, ct in browser_side["sent"]]
    assert decrypted == [{"t": "text", "body": "Dank je. Ça va — 🙂"}, {"t": "typing-hint", "body": ""}]
    assert [seq for seq, _ in browser_side["sent"]] == [0, 1]


def test_browser_proof_of_work_is_accepted_by_python(protocol_page: Any) -> None:
    challenge = secrets.token_bytes(32)
    nonce_hex = run_js(protocol_page, "return p.bytesToHex(await p.powSolve(p.hexToBytes(arg), 10));", challenge.hex())
    assert pow_check(challenge, bytes.fromhex(nonce_hex), 10)



def test_browser_work_is_accepted_by_python(protocol_page: Any) -> None:
    challenge = secrets.token_bytes(45)
    nonce_hex = run_js(protocol_page, "return p.bytesToHex(await p.workSolve(p.hexToBytes(arg), 2048, 6));",
                       challenge.hex())
    assert work_check(challenge, bytes.fromhex(nonce_hex), 2048, 6)

# --- What the module may not do ----------------------------------------------------------


def test_contract_protocol_js_runs_under_strict_csp_without_eval_or_html_sinks(protocol_page: Any) -> None:
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    for forbidden in ("innerHTML", "outerHTML", "eval(", "new Function", "document.", "import(", "localStorage"):
        assert forbidden not in source, forbidden
    result = run_js(
        protocol_page,
        """
        const pair = await p.generateChatKeyPair();
        return {
            csp: document.querySelector("meta[http-equiv='Content-Security-Policy']").content,
            violations: window.cspViolations,
            keyLength: pair.publicRaw.length,
        };
    """,
    )
    assert "script-src 'self'" in result["csp"] and "require-trusted-types-for 'script'" in result["csp"]
    assert result["violations"] == []
    assert result["keyLength"] == 65


def test_handshake_tbs_is_identical_in_both_implementations(protocol_page: Any) -> None:
    handshake = VECTORS["handshake"]
    epochs = [0, 1, 41, 2**53 - 1]
    js_tbs = run_js(
        protocol_page,
        """
        const h = arg.handshake;
        return arg.epochs.map((epoch) => p.b64e(p.handshakeTbs(h.chat, epoch, h.vk, h.ck)));
    """,
        {"handshake": handshake, "epochs": epochs},
    )
    assert js_tbs == [b64e(handshake_tbs(handshake["chat"], e, handshake["vk"], handshake["ck"])) for e in epochs]


# --- Protocol v2: identity key, message ids and receipts, hand-over bundles ------------------------------------


def test_js_v2_identity_key_vector_and_refusals(protocol_page: Any) -> None:
    identity = VECTORS["v2"]["identity"]
    result = run_js(
        protocol_page,
        """
        const i = arg.v2.identity;
        const other = p.b64e((await p.generateChatKeyPair()).publicRaw);
        const fresh = await p.generateIdentityKeyPair();
        const freshIk = p.b64e(fresh.publicRaw);
        const stored = await p.importIdentityKey(JSON.parse(JSON.stringify(await p.exportIdentityKey(fresh))));
        return {
            tbs: new TextDecoder().decode(await p.visitorKeyTbs(i.ik, i.vk)),
            good: await p.verifyVisitorKey(i.ik, i.vk, i.vsig),
            swappedVk: await p.verifyVisitorKey(i.ik, other, i.vsig),
            swappedIk: await p.verifyVisitorKey(other, i.vk, i.vsig),
            malformed: await p.verifyVisitorKey(i.ik, i.vk, "AAAA"),
            ours: {ik: freshIk, vk: i.vk, vsig: await p.signVisitorKey(stored.privateKey, freshIk, i.vk)},
        };
    """,
        VECTORS,
    )
    assert result["tbs"] == identity["tbs_vk"]
    assert result["good"] is True
    assert result["swappedVk"] is False and result["swappedIk"] is False and result["malformed"] is False
    ours = result["ours"]
    # A key the browser kept in sessionStorage (JWK) and imported again signs what Python accepts.
    assert verify_visitor_key(ours["ik"], ours["vk"], ours["vsig"])


@pytest.mark.parametrize("message", VECTORS["v2"]["messages"], ids=[m["dir"] for m in VECTORS["v2"]["messages"]])
def test_js_v2_message_vectors(protocol_page: Any, message: dict[str, Any]) -> None:
    result = run_js(
        protocol_page,
        MESSAGE_KEY_JS + """
        const plain = await p.decryptMessage(key, h.chat, h.epoch, m.dir, m.seq, m.ct);
        const rebuilt = plain.t === "text" ? p.textMessage(plain.body, plain.id) : p.receiptMessage(plain.ids);
        return {
            ct: await p.encryptMessage(key, h.chat, h.epoch, m.dir, m.seq, rebuilt),
            ids: p.receiptIds(plain),
            newId: p.isMessageId(p.newMessageId()),
            tooMany: await reasonOf(() => p.receiptMessage(Array.from({length: 65}, () => p.newMessageId()))),
            badId: await reasonOf(() => p.textMessage("hi", "nope")),
        };
    """,
        {"vectors": VECTORS, "message": message},
    )
    assert result["ct"] == message["ct"]
    plain = json.loads(message["plaintext_json"])
    assert result["ids"] == (plain["ids"] if plain["t"] == "receipt" else [])
    assert result["newId"] is True
    assert result["tooMany"] == "bad_message" and result["badId"] == "bad_message"


def test_js_handover_bundle_vector_and_across_implementations(protocol_page: Any) -> None:
    handover = VECTORS["v2"]["handover"]
    result = run_js(
        protocol_page,
        """
        const v = arg.vectors, hv = v.v2.handover, r = hv.recipient;
        const device = await p.importPrivateKeyFromScalarHexForTests(v.device.private_scalar_hex, p.b64d(v.device.public), "ECDSA");
        const ephemeral = {privateKey: await p.importPrivateKeyFromScalarHexForTests(hv.ephemeral_private_scalar_hex,
                              p.b64d(hv.ephemeral_public), "ECDH"), publicRaw: p.b64d(hv.ephemeral_public)};
        const ek = await p.importPrivateKeyFromScalarHexForTests(r.ek_private_scalar_hex, p.b64d(r.ek), "ECDH");
        const sealed = await p.sealBundle(hv.content, hv.chat, {[r.device]: p.b64d(r.ek)}, device, v.cert.device, v.cert,
                                          {contentKey: p.hexToBytes(hv.content_key_hex), ephemeral: {[r.device]: ephemeral}});
        const opened = await p.openBundle(hv.bundle, hv.chat, r.device, ek, p.b64d(r.ek), v.org.public, arg.today);
        const forged = structuredClone(hv.bundle);
        forged.sig = p.b64e(new Uint8Array(64));
        const fresh = await p.sealBundle(hv.content, hv.chat, {[r.device]: p.b64d(r.ek)}, device, v.cert.device, v.cert);
        return {
            ct: sealed.ct, wraps: sealed.wraps, content: opened.content, sender: opened.sender.pseudonym,
            forged: await reasonOf(() => p.openBundle(forged, hv.chat, r.device, ek, p.b64d(r.ek), v.org.public, arg.today)),
            otherChat: await reasonOf(() => p.openBundle(hv.bundle, v.handshake.chat.replace("A", "B"), r.device, ek,
                                                          p.b64d(r.ek), v.org.public, arg.today)),
            fresh,
        };
    """,
        {"vectors": VECTORS, "today": TODAY},
    )
    assert result["ct"] == handover["bundle"]["ct"] and result["wraps"] == handover["bundle"]["wraps"]
    assert result["content"] == handover["content"] and result["sender"] == VECTORS["cert"]["pseudonym"]
    assert result["forged"] == "bad_bundle" and result["otherChat"] == "bad_bundle"
    # A bundle the browser sealed with its own random keys opens in Python.
    recipient = crypto_private(handover["recipient"]["ek_private_scalar_hex"])
    content, _sender = open_bundle(result["fresh"], handover["chat"], handover["recipient"]["device"], recipient,
                                   b64d(VECTORS["org"]["public"]), dt.date.fromisoformat(TODAY))
    assert content == handover["content"]

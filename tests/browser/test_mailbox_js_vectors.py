"""In Chromium: mailbox.js reproduces docs/mailbox-vectors.json and interoperates with securemessages/crypto.py."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chat.protocol.crypto import b64d, b64e, generate_private_key, private_key_from_scalar_hex, public_key_bytes
from securemessages import crypto, envelope

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent.parent
ROOTS = {"/static/chat/": REPO / "chat" / "static" / "chat",
         "/static/securemessages/": REPO / "securemessages" / "static" / "securemessages",
         "/pages/": Path(__file__).resolve().parent / "pages"}
VECTORS: dict[str, Any] = json.loads((REPO / "docs" / "mailbox-vectors.json").read_text(encoding="utf-8"))
PROTOCOL: dict[str, Any] = json.loads((REPO / "docs" / "protocol-vectors.json").read_text(encoding="utf-8"))
MAILBOX_JS = ROOTS["/static/securemessages/"] / "mailbox.js"


class StaticFilesHandler(SimpleHTTPRequestHandler):
    """Serves the two apps' static folders as Django's STATIC_URL would, and the test pages."""

    def translate_path(self, path: str) -> str:
        for prefix, root in ROOTS.items():
            if path.startswith(prefix):
                resolved = (root / path[len(prefix):].split("?", 1)[0]).resolve()
                if resolved.is_relative_to(root):
                    return str(resolved)
        return str(ROOTS["/pages/"] / "missing")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def vector_page(browser: Any) -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(StaticFilesHandler, directory=str(REPO)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{server.server_address[1]}/pages/protocol_vectors.html")
    page.evaluate("() => { window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
                  "(event) => window.cspViolations.push(event.violatedDirective)); }")
    yield page
    context.close()
    server.shutdown()
    server.server_close()


PRELUDE = """
const m = await import("/static/securemessages/mailbox.js");
const p = await import("/static/chat/protocol.js");
const hex = (bytes) => p.bytesToHex(bytes);
const reasonOf = async (call) => { try { await call(); return "accepted"; } catch (error) { return error.reason ?? error.name; } };
"""


def run_js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE} {body} }}", arg)


def test_js_codename_derivation_matches_the_vectors(vector_page: Any) -> None:
    result = run_js(vector_page, """
        const keys = await m.deriveCodenameKeys(arg.input, {extractable: true});
        const production = await m.deriveCodenameKeys(arg.input);
        return {normalised: m.normaliseCodename(arg.input), seed: keys.scalars.seed, thread: keys.thread,
                access: hex(keys.access), box: keys.scalars.box, sign: keys.scalars.sign, mk: keys.mk, sk: keys.sk,
                productionExtractable: production.boxKey.extractable || production.signKey.extractable,
                productionHasScalars: production.scalars !== undefined,
                oddNormalised: m.normaliseCodename("ÄNCHOR–basil…İx"),
                empty: await reasonOf(() => m.deriveCodenameKeys(" - ")),
                scalarFromZeros: hex(m.scalarFromBytes(new Uint8Array(48))),
                generatorPoint: p.b64e(m.publicPointRaw(m.scalarFromBytes(new Uint8Array(48))))};
    """, VECTORS["codename"])
    codename = VECTORS["codename"]
    assert result["normalised"] == codename["normalised"]
    assert result["seed"] == codename["seed_hex"]
    assert result["thread"] == codename["thread"]
    assert result["access"] == codename["access_hex"]
    assert result["box"] == codename["box_private_scalar_hex"]
    assert result["sign"] == codename["sign_private_scalar_hex"]
    assert result["mk"] == codename["mk"] and result["sk"] == codename["sk"]
    assert result["productionExtractable"] is False and result["productionHasScalars"] is False
    assert result["oddNormalised"] == crypto.normalise_codename("ÄNCHOR–basil…İx")
    assert result["empty"] == "bad_codename"
    assert result["scalarFromZeros"] == "00" * 31 + "01"
    assert b64d(result["generatorPoint"]) == public_key_bytes(private_key_from_scalar_hex("1"))


@pytest.mark.parametrize("name", ["visitor_message", "team_message"])
def test_js_message_vectors(vector_page: Any, name: str) -> None:
    result = run_js(vector_page, """
        const v = arg.vector, c = arg.codename, d = arg.device;
        const keys = await m.deriveCodenameKeys(c.input);
        const contentKey = p.hexToBytes(v.content_key_hex);
        const message = JSON.parse(v.plaintext_json);
        const wraps = [];
        for (const w of v.wraps) {
            const recipientRaw = w.recipient === "mailbox" ? keys.mkRaw : p.b64d(d.ek);
            const epkRaw = p.b64d(w.epk);
            const ephemeral = {privateKey: await p.importPrivateKeyFromScalarHexForTests(
                w.ephemeral_private_scalar_hex, epkRaw, "ECDH"), publicRaw: epkRaw};
            const again = await m.wrapContentKey(contentKey, recipientRaw, c.thread, v.id, w.recipient, ephemeral);
            const ownKey = w.recipient === "mailbox" ? keys.boxKey
                : await p.importPrivateKeyFromScalarHexForTests(d.ek_private_scalar_hex, p.b64d(d.ek), "ECDH");
            const opened = await m.openEnvelope({...v, key: w}, c.thread, w.recipient, ownKey, recipientRaw);
            wraps.push({epk: again.epk, wk: again.wk, opened});
        }
        const signer = v.from === "visitor" ? keys.skRaw : p.b64d(arg.devicePublic);
        return {
            aad: new TextDecoder().decode(m.bodyAad(c.thread, v.id, v.from)),
            ct: await m.sealBody(contentKey, c.thread, v.id, v.from, message),
            tbs: new TextDecoder().decode(await m.messageTbs(c.thread, v.id, v.from, v.ct)),
            sigOk: await m.verifyMessage(signer, c.thread, v.id, v.from, v.ct, v.sig),
            sigOtherThread: await m.verifyMessage(signer, v.id, v.id, v.from, v.ct, v.sig),
            wraps,
            wrongRecipient: await reasonOf(() => m.openEnvelope({...v, key: v.wraps[1]}, c.thread, "mailbox",
                                                                keys.boxKey, keys.mkRaw)),
        };
    """, {"vector": VECTORS[name], "codename": VECTORS["codename"], "device": VECTORS["device"],
          "devicePublic": PROTOCOL["device"]["public"]})
    vector = VECTORS[name]
    assert result["aad"] == vector["aad"] and result["ct"] == vector["ct"] and result["tbs"] == vector["tbs"]
    assert result["sigOk"] is True and result["sigOtherThread"] is False
    for made, expected in zip(result["wraps"], vector["wraps"], strict=True):
        assert (made["epk"], made["wk"]) == (expected["epk"], expected["wk"])
        assert made["opened"] == json.loads(vector["plaintext_json"])
    assert result["wrongRecipient"] == "undecryptable"


def test_js_team_check_keeps_only_verified_devices(vector_page: Any) -> None:
    device = VECTORS["device"]
    good = {"cert": PROTOCOL["cert"], "ek": device["ek"], "ek_sig": device["ek_sig"]}
    result = run_js(vector_page, """
        const team = await m.verifiedTeam(arg.devices, arg.org, "2025-06-01");
        return {devices: team.map((entry) => entry.device), pseudonyms: team.map((entry) => entry.pseudonym),
                expired: (await m.verifiedTeam(arg.devices, arg.org, "2031-01-01")).length,
                ekTbs: new TextDecoder().decode(m.ekBindingTbs(arg.device.device, arg.device.ek))};
    """, {"org": PROTOCOL["org"]["public"], "device": device, "devices": [
        good,
        {**good, "ek": b64e(public_key_bytes(generate_private_key()))},  # a key the device never signed
        {**good, "cert": {**PROTOCOL["cert"], "pseudonym": "Mallory"}},  # a certificate the org never signed
        {"cert": "nonsense"},
    ]})
    assert result == {"devices": [device["device"]], "pseudonyms": ["Sam"], "expired": 0, "ekTbs": device["ek_tbs"]}


def test_envelopes_cross_between_the_browser_and_python(vector_page: Any) -> None:
    codename = "tafel fiets molen kaas appel regen zomer wolk"
    keys = crypto.derive_codename_keys(codename)
    device_private = private_key_from_scalar_hex(PROTOCOL["device"]["private_scalar_hex"])
    ek_private = private_key_from_scalar_hex(VECTORS["device"]["ek_private_scalar_hex"])
    device = PROTOCOL["cert"]["device"]
    from_python = envelope.build_envelope(
        keys.thread, device, device_private, {"t": "text", "body": "Antwoord uit Python ✓"},
        {"mailbox": public_key_bytes(keys.box_private), device: public_key_bytes(ek_private)})
    result = run_js(vector_page, """
        const keys = await m.deriveCodenameKeys(arg.codename);
        const team = await m.verifiedTeam([arg.member], arg.org, "2025-06-01");
        const recipients = new Map([["mailbox", keys.mkRaw], ...team.map((t) => [t.device, t.ekRaw])]);
        const sent = await m.buildEnvelope(keys.thread, "visitor", keys.signKey, {t: "text", body: "Vraag uit de browser é"},
                                           recipients);
        const received = await m.openEnvelope(arg.fromPython, keys.thread, "mailbox", keys.boxKey, keys.mkRaw);
        const sender = await m.checkMessageSender({...arg.fromPython, cert: arg.member.cert, day: "2025-06-01"},
                                                  keys.thread, keys.sk, arg.org);
        return {sent, received, sender};
    """, {"codename": codename, "org": PROTOCOL["org"]["public"], "fromPython": from_python,
          "member": {"cert": PROTOCOL["cert"], "ek": VECTORS["device"]["ek"], "ek_sig": VECTORS["device"]["ek_sig"]}})
    assert result["received"] == {"t": "text", "body": "Antwoord uit Python ✓"}
    assert result["sender"] == {"ok": True, "pseudonym": "Sam"}
    parsed = envelope.parse_envelope(result["sent"])
    assert crypto.verify_message(b64d(keys.sk), keys.thread, parsed.id, "visitor", parsed.ct, parsed.sig)
    content_key = crypto.unwrap_content_key(ek_private, result["sent"]["keys"][device], keys.thread, parsed.id, device)
    assert crypto.open_body(content_key, keys.thread, parsed.id, "visitor", parsed.ct) == {
        "t": "text", "body": "Vraag uit de browser é"}


def test_js_codenames_are_uniform_draws_from_the_list(vector_page: Any) -> None:
    words = (REPO / "securemessages" / "wordlists" / "nl.txt").read_text().split()
    result = run_js(vector_page, """
        const {WORDS} = await import("/static/securemessages/words-nl.js");
        const codenames = Array.from({length: 200}, () => m.makeCodename(WORDS));
        return {codenames, repeated: await reasonOf(() => m.makeCodename(["a", "a"])), frozen: Object.isFrozen(WORDS)};
    """)
    drawn = [word for codename in result["codenames"] for word in codename.split(" ")]
    assert all(len(codename.split(" ")) == 8 for codename in result["codenames"])
    assert set(drawn) <= set(words) and len(set(drawn)) > 600  # 1600 draws from 2048 words
    assert result["repeated"] == "bad_wordlist" and result["frozen"] is True


def test_contract_mailbox_js_runs_under_strict_csp_without_eval_or_html_sinks(vector_page: Any) -> None:
    source = MAILBOX_JS.read_text(encoding="utf-8")
    for forbidden in ("innerHTML", "outerHTML", "eval(", "new Function", "document.", "import(", "localStorage",
                      "Math.random"):
        assert forbidden not in source, forbidden
    assert run_js(vector_page, "await m.deriveCodenameKeys('a b', {iterations: 1000}); return window.cspViolations;") == []

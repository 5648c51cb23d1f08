"""In Chromium, the counsellor console against a scripted websocket (the page, sign-in and device API are real):
its `accept` is signed by the device key the organisation certified, its safety code is the visitor's, and an
offer it missed makes it say that it is now away instead of looking available.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat.client import EpochSession
from chat.protocol import crypto
from tests.browser.conftest import sign_in
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

TIMEOUT = 20_000
# demo-admin may counsel too; it keeps this module's TOTP sign-in apart from the other chat tests'.
USER = "demo-admin"




def test_console_accepts_with_a_certified_signature_and_owns_up_to_a_missed_offer(live_server: LiveServer,
                                                                                   page: Any) -> None:
    sent: list[dict[str, Any]] = []
    sockets: list[Any] = []
    visitor_key = crypto.generate_private_key()
    vk = crypto.b64e(crypto.public_key_bytes(visitor_key))
    first, second = crypto.b64e(bytes(16)), crypto.b64e(bytes(range(16)))

    def handler(socket: Any) -> None:
        sockets.append(socket)
        socket.on_message(lambda message: sent.append(json.loads(message)))

    page.route_web_socket("**/ws/counsellor/", handler)
    sign_in(page, live_server, USER)
    page.goto(f"{live_server.base_url}/en/staff/chat/")
    page.click("#device-enrol")
    page.wait_for_selector("#device-status:has-text('certified')", timeout=TIMEOUT)
    page.check("#available")
    page.wait_for_timeout(200)
    assert {"type": "available", "on": True} in sent
    server = sockets[-1]

    # An offer the console does not answer comes back in the waiting list: the console is now away.
    server.send(json.dumps({"type": "rekey", "chat": first, "epoch": 0, "vk": vk}))
    page.get_by_role("button", name="Accept").wait_for(timeout=TIMEOUT)
    server.send(json.dumps({"type": "queue", "chats": [{"chat": first, "lang": "nl", "waiting": 1}]}))
    page.wait_for_selector("#socket-status:has-text('marked as away')", timeout=TIMEOUT)
    assert not page.is_checked("#available")
    assert sent[-1] == {"type": "available", "on": False}
    assert page.inner_text("#queue-list").startswith("NL · waiting 1 min")

    # An offer it accepts: the signature verifies under the certificate the organisation gave its device.
    page.check("#available")
    server.send(json.dumps({"type": "queue", "chats": []}))
    server.send(json.dumps({"type": "rekey", "chat": second, "epoch": 0, "vk": vk}))
    page.get_by_role("button", name="Accept").click(timeout=TIMEOUT)
    page.wait_for_selector(".chat-panel .panel-safety-code:text-matches('^[0-9]{6}$')", timeout=TIMEOUT)
    accept = next(frame for frame in sent if frame["type"] == "accept")
    assert accept["chat"] == second and accept["epoch"] == 0
    device = page.request.get(f"{live_server.base_url}/chat/device/{accept['device']}/").json()
    assert device["status"] == "certified"
    org_public = crypto.b64d((live_server.var_dir / "org_public_key.txt").read_text().strip())
    certified = crypto.verify_certificate(device["cert"], org_public, crypto.utc_today())
    assert crypto.verify_handshake(certified, second, 0, vk, accept["ck"], accept["sig"])
    visitor = EpochSession.derive("visitor", second, 0, visitor_key, vk, accept["ck"])
    assert page.inner_text(".chat-panel .panel-safety-code") == visitor.safety_code

    # The visitor's encrypted message shows; the console's reply is ciphertext the visitor can open.
    server.send(json.dumps(visitor.seal({"t": "text", "body": "hallo?"})))
    page.wait_for_selector(".chat-panel .chat-log :text('hallo?')", timeout=TIMEOUT)
    page.fill(".chat-panel .panel-input", "Ik ben er.")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    reply = next(frame for frame in reversed(sent) if frame["type"] == "msg")
    assert "Ik ben er" not in json.dumps(reply)
    assert visitor.open(reply)[0] == {"t": "text", "body": "Ik ben er."}

    # The visitor reconnects with a new key: the console answers at once, for the next epoch.
    new_visitor_key = crypto.generate_private_key()
    new_vk = crypto.b64e(crypto.public_key_bytes(new_visitor_key))
    server.send(json.dumps({"type": "rekey", "chat": second, "epoch": 1, "vk": new_vk}))
    page.wait_for_selector(".chat-panel .chat-log :text('secure session restarted')", timeout=TIMEOUT)
    rekey_accept = [frame for frame in sent if frame["type"] == "accept"][-1]
    assert rekey_accept["epoch"] == 1
    assert crypto.verify_handshake(certified, second, 1, new_vk, rekey_accept["ck"], rekey_accept["sig"])

    # End with a wrap-up: the codes the server accepts.
    page.click(".chat-panel .panel-end")
    page.check(".chat-panel input[name=contact][value=someone_else]")
    page.check(".chat-panel input[name=action][value=crisis_info]")
    page.click(".chat-panel .panel-wrapup-submit")
    page.wait_for_selector("#no-chats:not([hidden])", timeout=TIMEOUT)
    assert sent[-1] == {"type": "end", "chat": second, "wrapup": {"contact": "someone_else", "action": ["crisis_info"]}}

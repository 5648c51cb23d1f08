"""In Chromium, the counsellor console against a scripted websocket (the page, sign-in and device API are real):
its `accept` is signed by the device key the organisation certified, its safety code is the visitor's, an
offer it missed makes it say that it is now away instead of looking available, and a chat the visitor left keeps
its wrap-up form, which goes to the real staff endpoint with the `ended` frame's one-time token.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from typing import Any

import pytest

from chat.client import EpochSession
from chat.protocol import crypto
from tests.browser.conftest import sign_in
from tests.conftest import REPO, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

TIMEOUT = 20_000
# demo-admin may counsel too; it keeps this module's TOTP sign-in apart from the other chat tests'.
USER = "demo-admin"


def wrapup_token(live_server: LiveServer) -> str:
    """A token as the live server's `end` makes one (same SECRET_KEY: the server's var folder)."""
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                             "from chat import actions; print(actions.wrapup_token())"],
                            cwd=REPO, env=live_server.env, capture_output=True, text=True, check=True)
    return result.stdout.split()[-1]


def wrapup_counts(live_server: LiveServer) -> dict[str, int]:
    with sqlite3.connect(live_server.database) as db:
        rows = db.execute("SELECT dimension, SUM(count) FROM metrics_dailycount WHERE metric = 'chat.wrapup' "
                          "GROUP BY dimension").fetchall()
    return {dimension: int(count) for dimension, count in rows}


def test_console_accepts_with_a_certified_signature_and_owns_up_to_a_missed_offer(live_server: LiveServer,
                                                                                   page: Any) -> None:
    sent: list[dict[str, Any]] = []
    sockets: list[Any] = []
    visitor_key = crypto.generate_private_key()
    vk = crypto.b64e(crypto.public_key_bytes(visitor_key))
    identity = crypto.generate_private_key()
    keys = {"vk": vk, "ik": crypto.b64e(crypto.public_key_bytes(identity)), "vsig": crypto.sign_visitor_key(identity, vk)}
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
    server.send(json.dumps({"type": "rekey", "chat": first, "epoch": 0, **keys}))
    page.get_by_role("button", name="Accept").wait_for(timeout=TIMEOUT)
    server.send(json.dumps({"type": "queue", "chats": [{"chat": first, "lang": "nl", "waiting": 1}]}))
    page.wait_for_selector("#console-notice:has-text('marked as away')", timeout=TIMEOUT)
    assert not page.is_checked("#available")
    assert sent[-1] == {"type": "available", "on": False}
    assert page.inner_text("#queue-list").startswith("NL · waiting 1 min")

    # An offer it accepts: the signature verifies under the certificate the organisation gave its device.
    page.check("#available")
    server.send(json.dumps({"type": "queue", "chats": []}))
    server.send(json.dumps({"type": "rekey", "chat": second, "epoch": 0, **keys}))
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

    # The visitor's encrypted message shows and is receipted; the console's reply is ciphertext the visitor can
    # open, and it shows as delivered once the visitor's receipt comes back.
    hello = crypto.text_message("hallo?", crypto.new_message_id())
    server.send(json.dumps(visitor.seal(hello)))
    page.wait_for_selector(".chat-panel .chat-log :text('hallo?')", timeout=TIMEOUT)
    page.fill(".chat-panel .panel-input", "Ik ben er.")
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    opened = [visitor.open(frame)[0] for frame in sent if frame["type"] == "msg"]
    assert {"t": "receipt", "ids": [hello["id"]]} in opened
    reply = next(message for message in opened if message["t"] == "text")
    assert reply["body"] == "Ik ben er." and crypto.is_message_id(reply["id"])
    assert not any("Ik ben er" in json.dumps(frame) for frame in sent)
    server.send(json.dumps(visitor.seal(crypto.receipt_message([reply["id"]]))))
    page.wait_for_selector(".chat-panel .from-me .delivery:text-is('Delivered')", timeout=TIMEOUT)

    # A rekey whose key the chat's identity key did not sign (a server swapping the visitor) is refused with an
    # alarm, and not answered.
    impostor = crypto.generate_private_key()
    impostor_vk = crypto.b64e(crypto.public_key_bytes(impostor))
    accepts = len([frame for frame in sent if frame["type"] == "accept"])
    server.send(json.dumps({"type": "rekey", "chat": second, "epoch": 1, "vk": impostor_vk,
                            "ik": crypto.b64e(crypto.public_key_bytes(impostor)),
                            "vsig": crypto.sign_visitor_key(impostor, impostor_vk)}))
    page.wait_for_selector(".chat-panel .chat-log :text('may be an attack')", timeout=TIMEOUT)
    page.wait_for_timeout(300)
    assert len([frame for frame in sent if frame["type"] == "accept"]) == accepts

    # The visitor reconnects with a new key: the console answers at once, for the next epoch.
    new_visitor_key = crypto.generate_private_key()
    new_vk = crypto.b64e(crypto.public_key_bytes(new_visitor_key))
    server.send(json.dumps({"type": "rekey", "chat": second, "epoch": 1, "vk": new_vk, "ik": keys["ik"],
                            "vsig": crypto.sign_visitor_key(identity, new_vk)}))
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

    # The visitor leaves a chat before the wrap-up: the tab stays open with the form, which now posts the
    # codes with the `ended` frame's token to the staff endpoint (the socket has no chat to end any more).
    third = crypto.b64e(bytes(range(16, 32)))
    server.send(json.dumps({"type": "rekey", "chat": third, "epoch": 0, **keys}))
    page.get_by_role("button", name="Accept").click(timeout=TIMEOUT)
    page.wait_for_selector(".chat-panel .panel-safety-code:text-matches('^[0-9]{6}$')", timeout=TIMEOUT)
    token = wrapup_token(live_server)
    before = wrapup_counts(live_server)
    ended_at = len(sent)
    # The frame the server sends once the consumer forwards `wrapup_token` (docs/protocol.md §7, ending).
    server.send(json.dumps({"type": "ended", "chat": third, "by": "visitor", "wrapup_token": token}))
    page.wait_for_selector(".chat-panel .chat-log :text('The visitor left the chat.')", timeout=TIMEOUT)
    page.wait_for_selector(".chat-panel .wrapup:not([hidden])", timeout=TIMEOUT)
    assert page.is_hidden(".chat-panel .panel-wrapup-cancel")
    assert page.is_disabled(".chat-panel .panel-end")
    page.check(".chat-panel input[name=contact][value=professional]")
    page.check(".chat-panel input[name=concern][value=worried_about_child]")
    page.click(".chat-panel .panel-wrapup-submit")
    page.wait_for_selector("#console-notice:has-text('The wrap-up was saved.')", timeout=TIMEOUT)
    assert page.inner_text("#socket-status") == "Connected.", "the connection's state is not written over"
    page.wait_for_selector("#no-chats:not([hidden])", timeout=TIMEOUT)
    assert all(frame["type"] != "end" for frame in sent[ended_at:])
    after = wrapup_counts(live_server)
    assert {key: after.get(key, 0) - before.get(key, 0) for key in after if after.get(key) != before.get(key)} \
        == {"contact.professional": 1, "concern.worried_about_child": 1}

    # The same token again (a replay, from this signed-in session with its CSRF token) counts nothing.
    csrf = page.get_attribute("#console", "data-csrf")
    replay = page.request.post(f"{live_server.base_url}/en/staff/chat/wrapup/",
                               data=json.dumps({"token": token, "wrapup": {"contact": "self"}}),
                               headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    assert replay.status == 409
    assert wrapup_counts(live_server) == after

    # A token the server did not make: the console says why, drops the form and counts nothing.
    fourth = crypto.b64e(bytes(range(32, 48)))
    server.send(json.dumps({"type": "rekey", "chat": fourth, "epoch": 0, **keys}))
    page.get_by_role("button", name="Accept").click(timeout=TIMEOUT)
    page.wait_for_selector(".chat-panel .panel-safety-code:text-matches('^[0-9]{6}$')", timeout=TIMEOUT)
    server.send(json.dumps({"type": "ended", "chat": fourth, "by": "timeout", "wrapup_token": "forged"}))
    page.check(".chat-panel input[name=contact][value=silent]", timeout=TIMEOUT)
    page.click(".chat-panel .panel-wrapup-submit", timeout=TIMEOUT)
    page.wait_for_selector(".chat-panel .chat-log :text('This wrap-up link is not valid.')", timeout=TIMEOUT)
    assert page.is_hidden(".chat-panel .wrapup")
    assert wrapup_counts(live_server) == after
    page.get_by_role("button", name="Close this chat").click()
    page.wait_for_selector("#no-chats:not([hidden])", timeout=TIMEOUT)

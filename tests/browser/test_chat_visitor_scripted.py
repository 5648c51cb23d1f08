"""In Chromium, against a scripted websocket: the visitor's page never falls back to an unverified key,
says clearly when the chat is closed or full, solves proof of work and rent, and explains a browser without
WebCrypto.

The websocket is answered by the test (Playwright's route_web_socket), standing in for a server that lies:
the page itself is still served by the real Daphne, with its pinned organisation key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from chat.protocol import crypto
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

CHAT = crypto.b64e(bytes(range(16)))
RESUME = crypto.b64e(bytes(32))
TIMEOUT = 20_000


def org_private_key(live_server: LiveServer) -> Any:
    return serialization.load_pem_private_key((live_server.var_dir / "org_private_key.pem").read_bytes(), None)


def scripted_server(page: Any, answer: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Answer the visitor's socket with `answer(frame)`; returns the list of frames the page sent."""
    sent: list[dict[str, Any]] = []

    def handler(socket: Any) -> None:
        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            sent.append(frame)
            for reply in answer(frame):
                socket.send(json.dumps(reply))

        socket.on_message(on_message)

    page.route_web_socket("**/ws/visitor/", handler)
    return sent


def connected_frame(join: dict[str, Any], org_key: Any, *, sign_with: Any = None) -> dict[str, Any]:
    """A `connected` frame for the visitor's key, with a certificate from `org_key`."""
    device_key = crypto.generate_private_key()
    cert = crypto.make_certificate(org_key, crypto.new_device_id(), "Mallory",
                                   crypto.public_key_bytes(device_key), dt.date.today() + dt.timedelta(days=30))
    counsellor_key = crypto.generate_private_key()
    ck = crypto.b64e(crypto.public_key_bytes(counsellor_key))
    sig = crypto.sign_handshake(sign_with or device_key, CHAT, 0, join["vk"], ck)
    return {"type": "connected", "chat": CHAT, "epoch": 0, "ck": ck, "sig": sig, "cert": cert}


def end_a_scripted_chat(live_server: LiveServer, page: Any, lang: str = "en") -> tuple[list[dict[str, Any]],
                                                                                      list[dict[str, Any]]]:
    """Join a scripted chat that connects at once, then End it (and confirm) as the visitor would; returns the
    frames the page sent and the feedback bodies it will post (answered 204)."""
    def answer(frame: dict[str, Any]) -> list[dict[str, Any]]:
        if frame["type"] == "join":
            return [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 1},
                    connected_frame(frame, org_private_key(live_server))]
        if frame["type"] == "leave":
            return [{"type": "ended", "chat": CHAT, "by": "visitor", "feedback": "one-time-token"}]
        return []

    sent = scripted_server(page, answer)
    feedback: list[dict[str, Any]] = []

    def record_feedback(route: Any) -> None:
        feedback.append(json.loads(route.request.post_data))
        route.fulfill(status=204)

    page.route("**/chat/feedback/", record_feedback)
    page.goto(f"{live_server.base_url}/{lang}/help/chat/")
    page.click("#chat-start")
    page.wait_for_selector("#chat-room:not([hidden])", timeout=TIMEOUT)
    page.click("#chat-leave")
    page.click("#chat-leave-confirm")  # End asks first
    page.wait_for_selector("#chat-after:not([hidden])", timeout=TIMEOUT)
    return sent, feedback


@pytest.mark.parametrize("forgery", ["certificate_from_another_org_key", "handshake_signed_by_another_key"])
def test_visitor_refuses_an_unverified_counsellor_and_never_falls_back(live_server: LiveServer, page: Any,
                                                                       forgery: str) -> None:
    def answer(frame: dict[str, Any]) -> list[dict[str, Any]]:
        if frame["type"] != "join":
            return []
        if forgery == "certificate_from_another_org_key":
            connected = connected_frame(frame, crypto.generate_private_key())
        else:
            connected = connected_frame(frame, org_private_key(live_server), sign_with=crypto.generate_private_key())
        return [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 1}, connected]

    sent = scripted_server(page, answer)
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    page.wait_for_selector("#chat-alert:has-text('could not verify')", timeout=TIMEOUT)
    assert page.locator("#chat-room").is_hidden()
    assert page.inner_text("#chat-safety-code") == ""
    for _ in range(20):
        if len(sent) >= 2:
            break
        page.wait_for_timeout(100)  # lets Playwright deliver the page's last frames to the handler
    assert [frame["type"] for frame in sent] == ["join", "leave"]
    assert page.evaluate("sessionStorage.length") == 0


def test_visitor_accepts_a_properly_certified_counsellor(live_server: LiveServer, page: Any) -> None:
    # The same scripted server with a genuine certificate: proves the refusals above are about the forgery.
    def answer(frame: dict[str, Any]) -> list[dict[str, Any]]:
        if frame["type"] != "join":
            return []
        return [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 2},
                connected_frame(frame, org_private_key(live_server))]

    sent = scripted_server(page, answer)
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    page.wait_for_selector("#chat-room:not([hidden])", timeout=TIMEOUT)
    assert page.inner_text("#chat-peer") == "Your counsellor: Mallory (verified)"
    kept = json.loads(page.evaluate("sessionStorage.getItem('helpline.chat.resume')"))
    assert kept["resume"] == RESUME and kept["identity"]["ik"] == sent[0]["ik"]


@pytest.mark.parametrize(("code", "text"), [("closed", "closed right now"), ("queue_full", "queue is full"),
                                            ("rate_limited", "Too many attempts")])
def test_visitor_is_told_clearly_when_the_chat_cannot_start(live_server: LiveServer, page: Any, code: str,
                                                            text: str) -> None:
    scripted_server(page, lambda frame: [{"type": "error", "code": code, "message": "x"}])
    page.goto(f"{live_server.base_url}/nl/help/chat/" if code == "closed" else f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    expected = "nu gesloten" if code == "closed" else text
    page.wait_for_selector(f"#chat-alert:has-text('{expected}')", timeout=TIMEOUT)
    assert page.locator("#chat-intro").is_visible()


def test_visitor_solves_the_proof_of_work_it_is_asked_for(live_server: LiveServer, page: Any) -> None:
    challenge = crypto.b64e(b"test challenge of the day")
    page.route("**/chat/pow/", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"challenge": challenge, "iterations": 1000, "bits": 6})))
    sent = scripted_server(page, lambda frame: [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 3}])
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    page.wait_for_selector("#chat-status:has-text('number 3 in the queue')", timeout=TIMEOUT)
    join = sent[0]
    assert join["type"] == "join" and join["v"] == 2 and join["lang"] == "en"
    assert crypto.verify_visitor_key(join["ik"], join["vk"], join["vsig"])
    assert join["pow"]["challenge"] == challenge
    assert crypto.work_check(crypto.b64d(challenge), crypto.b64d(join["pow"]["nonce"]), 1000, 6)


def test_visitor_pays_each_rent_it_is_asked_for_and_no_other(live_server: LiveServer, page: Any) -> None:
    asks = [{"type": "rent", "chat": CHAT, "challenge": crypto.b64e(f"rent {n}".encode()), "iterations": 500,
             "bits": 5, "due": 50} for n in range(2)]
    other_chat = {**asks[0], "chat": crypto.b64e(bytes(16)), "challenge": crypto.b64e(b"not this page's chat")}

    def answer(frame: dict[str, Any]) -> list[dict[str, Any]]:
        if frame["type"] == "join":
            return [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 2}, other_chat, asks[0]]
        return [asks[1]] if frame["type"] == "rent" and frame["pow"]["challenge"] == asks[0]["challenge"] else []

    sent = scripted_server(page, answer)
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    deadline = dt.datetime.now() + dt.timedelta(milliseconds=TIMEOUT)
    while sum(frame["type"] == "rent" for frame in sent) < 2:
        assert dt.datetime.now() < deadline, sent
        page.wait_for_timeout(100)
    rents = [frame for frame in sent if frame["type"] == "rent"]
    for ask, paid in zip(asks, rents, strict=True):
        assert paid["chat"] == CHAT and paid["pow"]["challenge"] == ask["challenge"]
        assert crypto.work_check(crypto.b64d(ask["challenge"]), crypto.b64d(paid["pow"]["nonce"]), 500, 5)
    page.wait_for_selector("#chat-status:has-text('number 2 in the queue')", timeout=TIMEOUT)


def test_browser_without_webcrypto_is_told_plainly(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(globalThis.crypto, 'subtle', {value: undefined});")
    page = context.new_page()
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.wait_for_selector("#chat-unsupported:not([hidden])", timeout=TIMEOUT)
    assert "cannot encrypt" in page.inner_text("#chat-unsupported")
    assert page.locator("#chat-start").is_hidden()
    context.close()


def test_lost_connection_reconnects_and_resumes_with_a_fresh_key(live_server: LiveServer, page: Any) -> None:
    connections: list[list[dict[str, Any]]] = []

    def handler(socket: Any) -> None:
        frames: list[dict[str, Any]] = []
        connections.append(frames)

        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            frames.append(frame)
            if frame["type"] == "join":
                socket.send(json.dumps({"type": "queued", "chat": CHAT, "resume": RESUME, "position": 1}))
                socket.close(code=1011)
            elif frame["type"] == "resume":
                socket.send(json.dumps({"type": "queued", "chat": CHAT, "position": 1}))

        socket.on_message(on_message)

    page.route_web_socket("**/ws/visitor/", handler)
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    for _ in range(60):
        if len(connections) >= 2 and connections[1]:
            break
        page.wait_for_timeout(100)
    assert len(connections) >= 2, "the page did not reconnect"
    join, resume = connections[0][0], connections[1][0]
    assert resume["type"] == "resume" and resume["resume"] == RESUME
    assert resume["vk"] != join["vk"], "a new connection always gets a new key"
    assert resume["ik"] == join["ik"], "... signed by the same identity key, for the chat's whole life"
    assert crypto.verify_visitor_key(resume["ik"], resume["vk"], resume["vsig"])
    page.wait_for_selector("#chat-status:has-text('next in the queue')", timeout=TIMEOUT)


def test_visitor_ends_the_chat_then_rates_it(live_server: LiveServer, page: Any) -> None:
    sent, feedback = end_a_scripted_chat(live_server, page)
    assert page.inner_text("#chat-ended-reason") == "You ended the chat."
    assert {"type": "leave", "chat": CHAT} in sent
    page.check("input[name=rating][value='2']")
    page.click("#chat-feedback button[type=submit]")
    page.wait_for_selector("#chat-feedback-status:has-text('Thank you')", timeout=TIMEOUT)
    assert feedback == [{"feedback": "one-time-token", "rating": 2, "helped": None}]
    assert page.evaluate("sessionStorage.length") == 0
    assert page.locator("#chat-again").is_visible()


def test_a_message_the_busy_server_did_not_deliver_is_marked_and_sent_again(live_server: LiveServer,
                                                                          page: Any) -> None:
    # docs/protocol.md §6: `rate_limited` naming chat and seq means that one message was not passed on; the page
    # says so at the message and sends it again (same id, new seq) a few seconds later, and nothing else changes.
    refused_once: list[int] = []

    def answer(frame: dict[str, Any]) -> list[dict[str, Any]]:
        if frame["type"] == "join":
            return [{"type": "queued", "chat": CHAT, "resume": RESUME, "position": 1},
                    connected_frame(frame, org_private_key(live_server))]
        if frame["type"] == "msg" and frame["seq"] == 1 and not refused_once:
            refused_once.append(1)
            return [{"type": "error", "code": "rate_limited", "chat": CHAT, "seq": 1,
                     "message": "The service is very busy: this message was not delivered."}]
        return []

    sent = scripted_server(page, answer)
    page.goto(f"{live_server.base_url}/en/help/chat/")
    page.click("#chat-start")
    page.wait_for_selector("#chat-room:not([hidden])", timeout=TIMEOUT)
    for count, text in enumerate(("first", "second, refused once"), start=1):
        page.fill("#chat-input", text)
        page.click("#chat-send")
        page.wait_for_function(f"document.querySelectorAll('#chat-log .from-me').length === {count}",
                               timeout=TIMEOUT)
    page.wait_for_selector("#chat-log .not-delivered", timeout=TIMEOUT)
    lines = page.locator("#chat-log .from-me")
    assert "Not delivered yet" in lines.nth(1).inner_text() and "second, refused once" in lines.nth(1).inner_text()
    assert page.locator("#chat-room").is_visible()  # the chat goes on: a busy refusal is not an ending
    # A few seconds later the page sends it again by itself: a third frame with the next seq.
    for _ in range(100):
        if len([frame for frame in sent if frame["type"] == "msg"]) >= 3:
            break
        page.wait_for_timeout(100)
    assert [frame["seq"] for frame in sent if frame["type"] == "msg"] == [0, 1, 2]
    assert page.locator("#chat-log .not-delivered").count() == 0, "sending again is 'Sending…', not a failure"

"""A relayed frame for a socket that waits for nothing else goes out at once, from the sender's own turn
(helpline.upstream.PausingInbox.put_or_handle, chat.consumers.ChatSocket.relay_now); for a socket with
anything waiting it queues behind that, as before. Either way the receiver gets exactly what the sender sent,
and only for a chat it holds. The server's end of it (Daphne's protocol sending the frame) is exercised by
every live and browser test that relays a message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from chat.protocol.crypto import b64e
from chat.schema import SERVER_TO_VISITOR
from helpline.upstream import TEXT_NOW_EXTENSION, PausingInbox

from .conftest import ORIGIN, Opened, Visitor, application, with_inbox

pytestmark = pytest.mark.django_db(transaction=True)


class Transport:
    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


def msg(chat: str, seq: int) -> dict[str, Any]:
    return {"type": "msg", "chat": chat, "epoch": 0, "seq": seq, "ct": b64e(bytes([seq % 256]) * 272)}


async def open_visitor_as_our_server_does(opened: Opened) -> tuple[Visitor, PausingInbox, list[str]]:
    """A visitor socket with the inbox and the send-now function our Daphne gives it; returns what was sent now."""
    inbox = PausingInbox(Transport())
    communicator = with_inbox(WebsocketCommunicator(application(), "/ws/visitor/", headers=[ORIGIN]), inbox)
    sent_now: list[str] = []

    def send_text_now(text: str) -> None:  # as HelplineServer.send_text_now: the frame goes to the client
        sent_now.append(text)
        communicator.output_queue.put_nowait({"type": "websocket.send", "text": text})

    communicator.scope["extensions"][TEXT_NOW_EXTENSION] = send_text_now
    connected, _code = await communicator.connect()
    assert connected
    visitor = Visitor(communicator=communicator, direction=SERVER_TO_VISITOR)
    opened.sockets.append(visitor)
    return visitor, inbox, sent_now


def channel_of(layer: Any, inbox: PausingInbox) -> str:
    return next(channel for channel, registered in layer.inboxes.items() if registered is inbox)


async def test_a_message_for_an_idle_socket_goes_out_at_once(opened: Opened, open_counsellor: Any) -> None:
    visitor, inbox, sent_now = await open_visitor_as_our_server_does(opened)
    await visitor.join()
    counsellor = await open_counsellor()
    await counsellor.take(visitor)
    await visitor.drain()
    sent = await counsellor.send(msg(visitor.chat, 0))
    assert await visitor.expect_text(sent)
    assert sent_now == [sent]  # not through the visitor's task: straight from the counsellor's turn
    assert inbox.empty()


async def test_a_relay_queues_behind_what_the_socket_has_waiting_and_keeps_the_order(
        opened: Opened, open_counsellor: Any, layer: Any) -> None:
    visitor, inbox, sent_now = await open_visitor_as_our_server_does(opened)
    await visitor.join()
    counsellor = await open_counsellor()
    await counsellor.take(visitor)
    await visitor.drain()
    waiting = json.dumps(msg(visitor.chat, 0))
    relayed = json.dumps(msg(visitor.chat, 7))
    # The visitor's own frame is waiting when the relay arrives (no turn of the loop in between).
    inbox.put_nowait({"type": "websocket.receive", "text": waiting})
    await layer.send(channel_of(layer, inbox), {"type": "chat.relay", "chat": visitor.chat, "text": relayed})
    assert sent_now == [] and inbox.qsize() == 2
    assert await counsellor.expect_text(waiting)  # the visitor's frame was handled first...
    assert await visitor.expect_text(relayed)  # ...then the relay, the usual way
    assert sent_now == []


async def test_a_relay_for_a_chat_the_socket_does_not_hold_is_not_passed_on(
        opened: Opened, open_counsellor: Any, layer: Any) -> None:
    visitor, inbox, sent_now = await open_visitor_as_our_server_does(opened)
    await visitor.join()
    await visitor.drain()
    channel = channel_of(layer, inbox)
    await layer.send(channel, {"type": "chat.relay", "chat": "not-this-chat", "text": json.dumps(msg("x", 1))})
    await visitor.nothing()
    assert sent_now == [] and inbox.empty()

"""chat.access.socket_may_act, the one gate for chats: every case, and refusals that reveal nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from chat.access import COUNSELLOR, VISITOR, Act, SocketIdentity, refusal_code, socket_may_act


@dataclass
class FakeChat:
    state: str = "active"
    visitor_channel: str = "v1"
    counsellor_channel: str = "c1"
    counsellor_id: int | None = 7
    pending_since: dt.datetime | None = None


VISITOR_SOCKET = SocketIdentity(channel="v1")
OTHER_VISITOR = SocketIdentity(channel="v2")
HOLDER = SocketIdentity(channel="c1", user_id=7)
HOLDER_OTHER_TAB = SocketIdentity(channel="c2", user_id=7)
COLLEAGUE = SocketIdentity(channel="c3", user_id=8)
SUPERVISOR = SocketIdentity(channel="c4", user_id=9, may_supervise=True)


def test_no_chat_no_act() -> None:
    assert not socket_may_act(VISITOR, VISITOR_SOCKET, None)
    assert not socket_may_act(COUNSELLOR, HOLDER, None)
    assert refusal_code(VISITOR, VISITOR_SOCKET, None) == "unknown_chat"


@pytest.mark.parametrize("act", [Act.SPEAK, Act.END])
def test_visitor_socket_that_owns_the_chat(act: Act) -> None:
    assert socket_may_act(VISITOR, VISITOR_SOCKET, FakeChat(), act)
    assert socket_may_act(VISITOR, VISITOR_SOCKET, FakeChat(state="queued"), act)


@pytest.mark.parametrize("act", [Act.ACCEPT, Act.TRANSFER])
def test_visitor_never_accepts_or_transfers(act: Act) -> None:
    assert not socket_may_act(VISITOR, VISITOR_SOCKET, FakeChat(pending_since=dt.datetime.now(dt.UTC)), act)


def test_another_visitor_socket_cannot_and_hears_unknown_chat() -> None:
    assert not socket_may_act(VISITOR, OTHER_VISITOR, FakeChat())
    assert refusal_code(VISITOR, OTHER_VISITOR, FakeChat()) == "unknown_chat"


def test_a_visitor_whose_socket_left_cannot_act_until_resumed() -> None:
    assert not socket_may_act(VISITOR, SocketIdentity(channel=""), FakeChat(visitor_channel=""))


def test_holder_socket_may_speak_end_and_transfer_an_active_chat() -> None:
    for act in (Act.SPEAK, Act.END, Act.TRANSFER):
        assert socket_may_act(COUNSELLOR, HOLDER, FakeChat(), act)


def test_holder_cannot_speak_on_an_offer_not_yet_accepted() -> None:
    offered = FakeChat(state="offered", pending_since=dt.datetime.now(dt.UTC))
    assert not socket_may_act(COUNSELLOR, HOLDER, offered, Act.SPEAK)
    assert socket_may_act(COUNSELLOR, HOLDER, offered, Act.ACCEPT)


def test_accept_needs_a_pending_handshake() -> None:
    assert not socket_may_act(COUNSELLOR, HOLDER, FakeChat(), Act.ACCEPT)


def test_another_tab_of_the_same_counsellor_cannot_and_hears_not_yours() -> None:
    for act in Act:
        assert not socket_may_act(COUNSELLOR, HOLDER_OTHER_TAB, FakeChat(pending_since=dt.datetime.now(dt.UTC)), act)
    assert refusal_code(COUNSELLOR, HOLDER_OTHER_TAB, FakeChat()) == "not_yours"


def test_a_colleague_cannot_and_hears_unknown_chat() -> None:
    for act in Act:
        assert not socket_may_act(COUNSELLOR, COLLEAGUE, FakeChat(), act)
    assert refusal_code(COUNSELLOR, COLLEAGUE, FakeChat()) == "unknown_chat"


def test_a_queued_chat_belongs_to_no_counsellor() -> None:
    queued = FakeChat(state="queued", counsellor_channel="", counsellor_id=None)
    for act in Act:
        assert not socket_may_act(COUNSELLOR, HOLDER, queued, act)
        assert not socket_may_act(COUNSELLOR, SUPERVISOR, queued, act)


def test_a_supervisor_may_transfer_any_held_chat_but_not_speak_on_it() -> None:
    assert socket_may_act(COUNSELLOR, SUPERVISOR, FakeChat(), Act.TRANSFER)
    assert socket_may_act(COUNSELLOR, SUPERVISOR, FakeChat(state="offered"), Act.TRANSFER)
    for act in (Act.SPEAK, Act.END, Act.ACCEPT):
        assert not socket_may_act(COUNSELLOR, SUPERVISOR, FakeChat(), act)


def test_a_staff_socket_without_user_cannot() -> None:
    assert not socket_may_act(COUNSELLOR, SocketIdentity(channel="c1"), FakeChat())


def test_a_visitor_socket_cannot_act_as_counsellor_and_back() -> None:
    assert not socket_may_act(VISITOR, SocketIdentity(channel="c1", user_id=7), FakeChat())
    assert not socket_may_act(COUNSELLOR, SocketIdentity(channel="v1", user_id=7), FakeChat())

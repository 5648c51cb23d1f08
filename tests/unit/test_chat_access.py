"""chat.access, the one gate for chats: every case of the rule, access_chat on real rows, refusals that reveal nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from chat.access import (
    COUNSELLOR,
    VISITOR,
    Act,
    ChatRefused,
    SocketIdentity,
    access_chat,
    refusal_code,
    socket_may_act,
)


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


# --- access_chat: the rule above applied to a chat read from the database ------------------------------------


@pytest.fixture
def held_chat(db: None) -> Any:
    from django.utils import timezone

    from chat.models import Chat
    from helpline.accounts.actions import create_staff

    user, _ = create_staff("holder", "a-long-test-password-1", ["counsellor"])
    moment = timezone.now()
    return Chat.objects.create(lang="en", state="active", resume_hash="0" * 64, queued_at=moment,
                               waiting_since=moment, counsellor=user, visitor_channel="v1", counsellor_channel="c1")


def test_access_chat_returns_the_chat_a_socket_may_act_on(held_chat: Any) -> None:
    assert access_chat(VISITOR, VISITOR_SOCKET, held_chat.pk, Act.SPEAK).pk == held_chat.pk
    holder = SocketIdentity(channel="c1", user_id=held_chat.counsellor_id)
    assert access_chat(COUNSELLOR, holder, held_chat.pk, Act.END).pk == held_chat.pk


def test_access_chat_refuses_alike_whether_or_not_the_chat_exists(held_chat: Any) -> None:
    answers = []
    for chat_id in (held_chat.pk, "AAAAAAAAAAAAAAAAAAAAAA", None, ""):
        with pytest.raises(ChatRefused) as refused:
            access_chat(VISITOR, OTHER_VISITOR, chat_id, Act.SPEAK)
        answers.append((refused.value.code, refused.value.message))
    assert set(answers) == {("unknown_chat", None)}


def test_access_chat_tells_a_counsellors_other_tab_not_yours(held_chat: Any) -> None:
    other_tab = SocketIdentity(channel="c2", user_id=held_chat.counsellor_id)
    with pytest.raises(ChatRefused) as refused:
        access_chat(COUNSELLOR, other_tab, held_chat.pk, Act.SPEAK)
    assert refused.value.code == "not_yours"


def test_access_chat_can_lock_the_row_for_the_rest_of_a_transaction(held_chat: Any) -> None:
    from django.db import transaction

    with transaction.atomic():
        assert access_chat(VISITOR, VISITOR_SOCKET, held_chat.pk, Act.END, lock=True).pk == held_chat.pk

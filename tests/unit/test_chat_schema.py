"""chat.schema: one declared schema per frame type, the same as protocol.md §7, and strict about shapes and sizes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.protocol.crypto import b64e
from chat.schema import (
    COUNSELLOR_TO_SERVER,
    MAX_FRAME_BYTES,
    SCHEMAS,
    SERVER_TO_COUNSELLOR,
    SERVER_TO_VISITOR,
    VISITOR_TO_SERVER,
    Frame,
    FrameError,
    server_frame,
    validate_frame,
    wrapup_dimensions,
)

PROTOCOL = Path("/work/shared/design/protocol.md")
REPO_PROTOCOL = Path(__file__).resolve().parent.parent.parent / "docs" / "protocol.md"
HEADINGS = {
    "Visitor → server": VISITOR_TO_SERVER,
    "Server → visitor": SERVER_TO_VISITOR,
    "Counsellor → server": COUNSELLOR_TO_SERVER,
    "Server → counsellor": SERVER_TO_COUNSELLOR,
}

CHAT = b64e(bytes(range(16)))
OTHER_CHAT = b64e(bytes(range(1, 17)))
# The P-256 generator: a real point, as every key in a frame must be.
POINT = b64e(bytes.fromhex("04"
                           "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                           "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"))
NOT_ON_THE_CURVE = b64e(b"\x04" + bytes(64))
SIG = b64e(bytes(64))
RESUME = b64e(bytes(32))
DEVICE = b64e(bytes(16))
KEYS = {"vk": POINT, "ik": POINT, "vsig": SIG}  # the schema checks shapes; signatures are the action's to check
CERT = {"v": 1, "device": DEVICE, "pseudonym": "Sam", "key": POINT, "not_after": "2030-01-01", "sig": SIG}
BUNDLE = {"ct": b64e(bytes(300)), "wraps": [{"device": DEVICE, "epk": POINT, "wk": b64e(bytes(48))}],
          "device": DEVICE, "cert": CERT, "sig": SIG}


def protocol_text() -> str:
    path = REPO_PROTOCOL if REPO_PROTOCOL.exists() else PROTOCOL
    return path.read_text(encoding="utf-8")


def documented_frames() -> dict[str, dict[str, set[str]]]:
    """direction -> frame type -> field names, read from the four tables of protocol.md §7."""
    section = protocol_text().split("## 7. Frames")[1].split("## 8.")[0]
    tables: dict[str, dict[str, set[str]]] = {}
    current: str | None = None
    for line in section.splitlines():
        if line.strip() in HEADINGS:
            current = HEADINGS[line.strip()]
            tables[current] = {}
            continue
        if current is None or not line.startswith("| `"):
            continue
        type_cell, fields_cell = (cell.strip() for cell in line.strip().strip("|").split("|")[:2])
        types = re.findall(r"`([a-z_]+)`", type_cell)
        # Words in parentheses describe a field ("(= 1)", "(first time only)"); they are not fields.
        without_notes = re.sub(r"\([^()]*\)", "", fields_cell)
        fields = set(re.findall(r"`([a-z_]+)`", without_notes))
        for frame_type in types:
            tables[current][frame_type] = fields
    # "as sent by the counsellor" / "as for the visitor": msg and typing have the same fields both ways.
    for table in tables.values():
        for frame_type in ("msg", "typing"):
            if not table.get(frame_type):
                table[frame_type] = tables[VISITOR_TO_SERVER][frame_type]
    return tables


def test_the_doc_tables_were_found() -> None:
    tables = documented_frames()
    assert set(tables) == set(HEADINGS.values())
    assert tables[VISITOR_TO_SERVER]["join"] == {"v", "vk", "ik", "vsig", "lang", "pow"}
    assert tables[SERVER_TO_COUNSELLOR]["queue"] == {"chats"}


@pytest.mark.parametrize("direction", list(HEADINGS.values()))
def test_schema_declares_exactly_the_documented_frame_types_and_fields(direction: str) -> None:
    documented = documented_frames()[direction]
    assert set(SCHEMAS[direction]) == set(documented)
    for frame_type, schema in SCHEMAS[direction].items():
        assert schema.fields == documented[frame_type], frame_type


def test_optional_fields_are_the_documented_optional_ones() -> None:
    """Every field the doc's tables mark optional (or name a condition for) is optional in the schema, and no other."""
    section = protocol_text().split("## 7. Frames")[1].split("### What the server does")[0]
    documented: set[tuple[str, str, str]] = set()
    current: str | None = None
    for line in section.splitlines():
        if line.strip() in HEADINGS:
            current = HEADINGS[line.strip()]
            continue
        if current is None or not line.startswith("| `"):
            continue
        type_cell, fields_cell = (cell.strip() for cell in line.strip().strip("|").split("|")[:2])
        for frame_type in re.findall(r"`([a-z_]+)`", type_cell):
            for match in re.finditer(r"`([a-z_]+)`( and `([a-z_]+)`)?(?: \(([^()]*)\))?", fields_cell):
                note = match.group(4) or ""
                if "optional" in note or "when asked" in note or "only" in note or "the last three" in note:
                    for name in (match.group(1), match.group(3)):
                        if name:
                            documented.add((current, frame_type, name))
    # "`lang`, `waiting`, `expires` (the last three optional)": the note follows the last of the three.
    for direction, frame_type, name in list(documented):
        if (frame_type, name) == ("rekey", "expires"):
            documented |= {(direction, "rekey", "lang"), (direction, "rekey", "waiting")}
    declared = {(direction, frame_type, name) for direction, schemas in SCHEMAS.items()
                for frame_type, schema in schemas.items() for name in schema.optional}
    assert declared == documented


def test_every_error_code_of_section_8_is_declared() -> None:
    section = protocol_text().split("## 8. Errors")[1].split("## 9.")[0]
    fields = {"error", "code", "sig", "vsig", "ik", "chat", "seq"}
    documented = set(re.findall(r"`([a-z_]+)`", section.split("`message` is")[0])) - fields
    from chat.schema import ERROR_CODES

    assert documented == set(ERROR_CODES)


VALID = {
    VISITOR_TO_SERVER: [
        {"type": "join", "v": 2, **KEYS, "lang": "en"},
        {"type": "join", "v": 2, **KEYS, "lang": "nl", "pow": {"challenge": b64e(bytes(40)), "nonce": "AAAA"}},
        {"type": "resume", "resume": RESUME, **KEYS},
        {"type": "msg", "chat": CHAT, "epoch": 0, "seq": 2**53 - 1, "ct": b64e(bytes(272))},
        {"type": "typing", "chat": CHAT, "on": True},
        {"type": "leave", "chat": CHAT},
        {"type": "leave", "chat": CHAT, "hurry": True},
    ],
    COUNSELLOR_TO_SERVER: [
        {"type": "available", "on": False},
        {"type": "accept", "chat": CHAT, "epoch": 3, "ck": POINT, "sig": SIG, "device": DEVICE},
        {"type": "msg", "chat": CHAT, "epoch": 0, "seq": 0, "ct": b64e(bytes(272))},
        {"type": "typing", "chat": CHAT, "on": False},
        {"type": "transfer", "chat": CHAT, "to": "queue"},
        {"type": "transfer", "chat": CHAT, "to": "42"},
        {"type": "transfer", "chat": CHAT, "to": 42},
        {"type": "transfer", "chat": CHAT, "to": 42, "bundle": BUNDLE},
        {"type": "end", "chat": CHAT},
        {"type": "end", "chat": CHAT, "wrapup": {"contact": "self", "concern": ["online_images"],
                                                 "action": ["crisis_info", "referral_treatment"]}},
    ],
}


@pytest.mark.parametrize(("direction", "frame"), [(d, f) for d, frames in VALID.items() for f in frames])
def test_valid_frames_pass(direction: str, frame: dict[str, object]) -> None:
    text = json.dumps(frame)
    result = validate_frame(direction, text)
    assert isinstance(result, Frame), result
    assert result.type == frame["type"]
    assert result.text == text


JOIN = {"type": "join", "v": 2, **KEYS, "lang": "en"}
TRANSFER = {"type": "transfer", "chat": CHAT, "to": 42}
INVALID = [
    (VISITOR_TO_SERVER, "not json"),
    (VISITOR_TO_SERVER, "[]"),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "vk": "x"})),
    (VISITOR_TO_SERVER, json.dumps({name: value for name, value in JOIN.items() if name != "type"})),
    (VISITOR_TO_SERVER, json.dumps({"type": "nope"})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "v": 1})),  # protocol v1 is gone
    (VISITOR_TO_SERVER, json.dumps({"type": "join", "v": 1, "vk": POINT, "lang": "en"})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "v": True})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "lang": "de"})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "vk": b64e(b"\x02" + bytes(64))})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "vk": POINT + "="})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "vk": NOT_ON_THE_CURVE})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "ik": NOT_ON_THE_CURVE})),
    (VISITOR_TO_SERVER, json.dumps({name: value for name, value in JOIN.items() if name != "ik"})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "vsig": b64e(bytes(63))})),
    (VISITOR_TO_SERVER, json.dumps({"type": "resume", "resume": RESUME, **KEYS, "vk": NOT_ON_THE_CURVE})),
    (VISITOR_TO_SERVER, json.dumps({"type": "resume", "resume": RESUME, "vk": POINT})),  # no identity key
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "extra": 1})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "pow": {"challenge": "AAAA", "nonce": b64e(bytes(33))}})),
    (VISITOR_TO_SERVER, json.dumps({**JOIN, "pow": "AAAA"})),
    (VISITOR_TO_SERVER, json.dumps({"type": "resume", "resume": b64e(bytes(31)), **KEYS})),
    (VISITOR_TO_SERVER, json.dumps({"type": "msg", "chat": b64e(bytes(15)), "epoch": 0, "seq": 0, "ct": "AAAA"})),
    (VISITOR_TO_SERVER, json.dumps({"type": "msg", "chat": CHAT, "epoch": -1, "seq": 0, "ct": "AAAA"})),
    (VISITOR_TO_SERVER, json.dumps({"type": "msg", "chat": CHAT, "epoch": 0, "seq": 2**53, "ct": "AAAA"})),
    (VISITOR_TO_SERVER, json.dumps({"type": "msg", "chat": CHAT, "epoch": 0, "seq": 1.5, "ct": "AAAA"})),
    (VISITOR_TO_SERVER, json.dumps({"type": "msg", "chat": CHAT, "epoch": 0, "seq": 0, "ct": "A+/="})),
    (VISITOR_TO_SERVER, json.dumps({"type": "msg", "chat": CHAT, "epoch": 0, "seq": 0,
                                    "ct": b64e(bytes(16 * 1024 + 273))})),
    (VISITOR_TO_SERVER, json.dumps({"type": "typing", "chat": CHAT, "on": 1})),
    (VISITOR_TO_SERVER, json.dumps({"type": "leave", "chat": CHAT, "hurry": "yes"})),
    (VISITOR_TO_SERVER, '{"type": "leave", "chat": "' + CHAT + '", "chat": "' + OTHER_CHAT + '"}'),
    (VISITOR_TO_SERVER, '{"type": "msg", "chat": "' + CHAT + '", "epoch": NaN, "seq": 0, "ct": "AAAA"}'),
    (VISITOR_TO_SERVER, json.dumps({"type": "available", "on": True})),  # a counsellor frame
    (COUNSELLOR_TO_SERVER, json.dumps(JOIN)),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "accept", "chat": CHAT, "epoch": 0, "ck": POINT,
                                       "sig": b64e(bytes(63)), "device": DEVICE})),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "transfer", "chat": CHAT, "to": "someone"})),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "transfer", "chat": CHAT, "to": True})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": "sealed"})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "ct": b64e(bytes(32 * 1024 + 17))}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "wraps": []}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "wraps": BUNDLE["wraps"] * 9}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "wraps": [{"device": DEVICE, "epk": POINT}]}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "wraps": [
        {"device": DEVICE, "epk": NOT_ON_THE_CURVE, "wk": b64e(bytes(48))}]}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "cert": {"v": 1}}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {**BUNDLE, "extra": 1}})),
    (COUNSELLOR_TO_SERVER, json.dumps({**TRANSFER, "bundle": {name: v for name, v in BUNDLE.items() if name != "sig"}})),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "end", "chat": CHAT, "wrapup": {"contact": "alien"}})),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "end", "chat": CHAT, "wrapup": {"mood": "self"}})),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "end", "chat": CHAT, "wrapup": {"contact": []}})),
    (COUNSELLOR_TO_SERVER, json.dumps({"type": "end", "chat": CHAT, "wrapup": ["self"]})),
]


@pytest.mark.parametrize(("direction", "text"), INVALID)
def test_invalid_frames_are_bad_frame(direction: str, text: str) -> None:
    result = validate_frame(direction, text)
    assert isinstance(result, FrameError), text
    assert result.code == "bad_frame"
    assert result.message


def test_a_frame_over_64_kib_is_refused_before_parsing() -> None:
    frame = json.dumps({"type": "msg", "chat": CHAT, "epoch": 0, "seq": 0, "ct": "A" * MAX_FRAME_BYTES})
    result = validate_frame(VISITOR_TO_SERVER, frame)
    assert isinstance(result, FrameError)
    assert "64 KiB" in result.message


@pytest.mark.parametrize(("direction", "frame_type", "fields"), [
    (SERVER_TO_VISITOR, "presence", {"chat": CHAT, "peer": "away"}),
    (SERVER_TO_VISITOR, "queued", {"chat": CHAT, "position": 1, "reason": "handover"}),
    (SERVER_TO_VISITOR, "error", {"code": "undelivered", "message": "x", "chat": CHAT, "seq": 3}),
    (SERVER_TO_COUNSELLOR, "rekey", {"chat": CHAT, "epoch": 0, **KEYS, "lang": "nl", "waiting": 3, "expires": 60}),
    (SERVER_TO_COUNSELLOR, "presence", {"chat": CHAT, "peer": "away", "grace": 120}),
    (SERVER_TO_COUNSELLOR, "handover", {"chat": CHAT, "from": "Sam", "bundle": BUNDLE}),
    (SERVER_TO_COUNSELLOR, "transferred", {"chat": CHAT, "outcome": "returned"}),
    (SERVER_TO_COUNSELLOR, "ended", {"chat": CHAT, "by": "visitor", "hurry": True}),
])
def test_the_v2_server_frames_build_and_their_wrong_variants_do_not(direction: str, frame_type: str,
                                                                     fields: dict[str, object]) -> None:
    assert server_frame(direction, frame_type, **fields) == {"type": frame_type, **fields}
    for name in fields:
        with pytest.raises(ValueError, match=f"bad {frame_type}"):
            server_frame(direction, frame_type, **{**fields, name: {"not": "this"}})


def test_server_frames_are_checked_too() -> None:
    assert server_frame(SERVER_TO_VISITOR, "queued", chat=CHAT, position=1) == {"type": "queued", "chat": CHAT,
                                                                                 "position": 1}
    with pytest.raises(ValueError, match="bad queued"):
        server_frame(SERVER_TO_VISITOR, "queued", chat=CHAT)
    with pytest.raises(ValueError, match="bad error"):
        server_frame(SERVER_TO_COUNSELLOR, "error", code="made_up", message="x")


def test_wrapup_dimensions_are_category_dot_code() -> None:
    assert wrapup_dimensions({"contact": "self", "action": ["crisis_info", "crisis_info"]}) == [
        "action.crisis_info", "contact.self"]


def test_wrapup_dimensions_are_valid_metric_dimensions() -> None:
    from chat.schema import WRAPUP_CODES
    from helpline.metrics.catalogue import is_wrapup_code

    for category, codes in WRAPUP_CODES.items():
        for code in codes:
            assert is_wrapup_code(f"{category}.{code}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["type", "chat", "epoch", "seq", "ct", "vk", "ck", "sig", "lang", "v", "pow", "on",
                               "resume", "to", "wrapup", "device", "leave"])
frame_like = st.dictionaries(field_names, json_values | st.sampled_from(
    ["join", "msg", "accept", "end", "transfer", "queue", CHAT, POINT, SIG, RESUME, DEVICE, "en"]), max_size=7)


@settings(max_examples=300, deadline=None)
@given(frame=frame_like, direction=st.sampled_from(list(HEADINGS.values())))
def test_validate_frame_never_raises(frame: dict[str, object], direction: str) -> None:
    result = validate_frame(direction, json.dumps(frame))
    assert isinstance(result, Frame | FrameError)
    if isinstance(result, Frame):
        assert set(result.fields) - {"type"} <= SCHEMAS[direction][result.type].fields


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_validate_frame_never_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(validate_frame(VISITOR_TO_SERVER, text), Frame | FrameError)

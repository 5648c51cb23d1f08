"""The one declared schema for every chat frame (protocol.md §7); a test holds this module and the doc together.

`validate_frame(direction, text)` checks shape, types and sizes and returns a `Frame`, or a `FrameError`
with code `bad_frame`. It never looks inside `ct`. Unknown fields are refused: a relayed frame then carries
exactly what the protocol names and nothing a peer could be confused by. The server builds its own frames
with `server_frame`, which checks them against the same schemas.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from chat.protocol.crypto import (
    WORK_MAX_BITS,
    WORK_MAX_ITERATIONS,
    WORK_MIN_ITERATIONS,
    b64d,
    b64d_length,
    load_public_key,
)
from helpline.languages import LANGUAGE_CODES

MAX_FRAME_BYTES: Final = 64 * 1024
MAX_SAFE_INTEGER: Final = 2**53 - 1
LANGS: Final = LANGUAGE_CODES  # helpline/languages.py
ENDED_BY: Final = ("visitor", "counsellor", "timeout")
ERROR_CODES: Final = ("bad_frame", "unknown_chat", "not_yours", "closed", "queue_full", "pow_required",
                      "pow_invalid", "rate_limited", "resume_invalid", "bad_signature", "undelivered")
PROTOCOL_VERSION: Final = 2
# Why a visitor is back in the queue: handed to a colleague, or their counsellor did not come back in time.
QUEUED_REASONS: Final = ("handover", "requeued")
PRESENCE: Final = ("away", "back")
TRANSFER_OUTCOMES: Final = ("taken", "returned")
# The largest hand-over bundle's ciphertext: 32 KiB of padded content plus the tag (docs/protocol.md, hand-over).
MAX_BUNDLE_CT_BYTES: Final = 32 * 1024 + 16
MAX_BUNDLE_WRAPS: Final = 8
# Wrap-up categories and their codes; counters are named chat.wrapup[<category>.<code>].
WRAPUP_CODES: Final[dict[str, tuple[str, ...]]] = {
    "contact": ("self", "someone_else", "professional", "silent", "test", "abusive"),
    "concern": ("own_urges", "online_images", "contact_offending", "past_offence", "someone_elses_behaviour",
                "worried_about_child", "other"),
    "action": ("self_help_suggested", "referral_treatment", "crisis_info"),
}

VISITOR_TO_SERVER: Final = "visitor_to_server"
COUNSELLOR_TO_SERVER: Final = "counsellor_to_server"
SERVER_TO_VISITOR: Final = "server_to_visitor"
SERVER_TO_COUNSELLOR: Final = "server_to_counsellor"
DIRECTIONS: Final = (VISITOR_TO_SERVER, COUNSELLOR_TO_SERVER, SERVER_TO_VISITOR, SERVER_TO_COUNSELLOR)


class FieldError(ValueError):
    """A field value is wrong; the message names what was expected."""


Check = Callable[[Any], None]


def _b64_of(length: int | None = None, *, max_length: int | None = None, point: bool = False) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, str):
            raise FieldError("must be a base64url string")
        if max_length is not None and len(value) > (max_length * 4 + 2) // 3:
            raise FieldError("is too long")
        try:
            decoded_length = b64d_length(value)  # most are checked and passed on unread: not decoded here
        except ValueError as error:
            raise FieldError("is not canonical unpadded base64url") from error
        if length is not None and decoded_length != length:
            raise FieldError(f"must decode to {length} bytes")
        if max_length is not None and decoded_length > max_length:
            raise FieldError(f"must decode to at most {max_length} bytes")
        if point:
            try:
                load_public_key(b64d(value))  # 0x04, then a point on P-256 (docs/protocol.md: keys)
            except ValueError as error:
                raise FieldError("must be an uncompressed P-256 point") from error

    return check


def _safe_int(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise FieldError("must be an integer from 0 to 2**53 - 1")


def _bool(value: Any) -> None:
    if not isinstance(value, bool):
        raise FieldError("must be true or false")


def _one_of(*choices: Any) -> Check:
    def check(value: Any) -> None:
        if isinstance(value, bool) or value not in choices:
            raise FieldError(f"must be one of {', '.join(map(str, choices))}")

    return check


def _text(max_chars: int) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, str) or not 0 < len(value) <= max_chars:
            raise FieldError(f"must be a string of 1 to {max_chars} characters")

    return check


def _pow(value: Any) -> None:
    if not isinstance(value, dict) or set(value) != {"challenge", "nonce"}:
        raise FieldError("must be an object with exactly challenge and nonce")
    _b64_of(max_length=64)(value["challenge"])
    _b64_of(max_length=32)(value["nonce"])


def _int_from(low: int, high: int) -> Check:
    def check(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FieldError(f"must be an integer from {low} to {high}")

    return check


def _to(value: Any) -> None:
    # A colleague is named by their staff id: the user's primary key, as a number or a decimal string.
    if value == "queue":
        return
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SAFE_INTEGER:
        return
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or not 0 < len(value) <= 12:
        raise FieldError("must be 'queue' or a colleague's id")


def _wrapup(value: Any) -> None:
    if not isinstance(value, dict):
        raise FieldError("must be an object of category codes")
    for category, codes in value.items():
        if category not in WRAPUP_CODES:
            raise FieldError(f"has an unknown category {category!r}")
        listed = codes if isinstance(codes, list) else [codes]
        if not 0 < len(listed) <= len(WRAPUP_CODES[category]):
            raise FieldError(f"{category} must name at least one code")
        for code in listed:
            if not isinstance(code, str) or code not in WRAPUP_CODES[category]:
                raise FieldError(f"{category} has an unknown code")


def _cert(value: Any) -> None:
    if not isinstance(value, dict) or set(value) != {"v", "device", "pseudonym", "key", "not_after", "sig"}:
        raise FieldError("must be a certificate object")


def _handover_bundle(value: Any) -> None:
    if not isinstance(value, dict) or set(value) != {"ct", "wraps", "device", "cert", "sig"}:
        raise FieldError("must be a bundle object with exactly ct, wraps, device, cert and sig")
    _b64_of(max_length=MAX_BUNDLE_CT_BYTES)(value["ct"])
    wraps = value["wraps"]
    if not isinstance(wraps, list) or not 0 < len(wraps) <= MAX_BUNDLE_WRAPS:
        raise FieldError(f"wraps must be a list of 1 to {MAX_BUNDLE_WRAPS} key wraps")
    for wrap in wraps:
        if not isinstance(wrap, dict) or set(wrap) != {"device", "epk", "wk"}:
            raise FieldError("wraps entries must be {device, epk, wk}")
        DEVICE_ID(wrap["device"])
        PUBLIC_KEY(wrap["epk"])
        _b64_of(32 + 16)(wrap["wk"])
    DEVICE_ID(value["device"])
    _cert(value["cert"])
    SIGNATURE(value["sig"])


def _queue_chats(value: Any) -> None:
    if not isinstance(value, list):
        raise FieldError("must be a list")
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"chat", "lang", "waiting"}:
            raise FieldError("entries must be {chat, lang, waiting}")
        CHAT_ID(entry["chat"])
        _one_of(*LANGS)(entry["lang"])
        _safe_int(entry["waiting"])


CHAT_ID: Final = _b64_of(16)
DEVICE_ID: Final = _b64_of(16)
PUBLIC_KEY: Final = _b64_of(65, point=True)
SIGNATURE: Final = _b64_of(64)
RESUME_TOKEN: Final = _b64_of(32)
# The largest sealed message: 16 KiB of plaintext padded to 16640 bytes, plus the 16-byte tag.
CIPHERTEXT: Final = _b64_of(max_length=16 * 1024 + 256 + 16)


@dataclass(frozen=True)
class FrameSchema:
    """One frame type in one direction: its required and optional fields with their checks."""

    type: str
    required: Mapping[str, Check]
    optional: Mapping[str, Check] = field(default_factory=dict)

    # Computed once: every frame of the type is checked against them.
    @functools.cached_property
    def required_names(self) -> frozenset[str]:
        return frozenset(self.required)

    @functools.cached_property
    def fields(self) -> frozenset[str]:
        return self.required_names | frozenset(self.optional)


def _schemas(*schemas: FrameSchema) -> dict[str, FrameSchema]:
    return {schema.type: schema for schema in schemas}


_MSG = FrameSchema("msg", {"chat": CHAT_ID, "epoch": _safe_int, "seq": _safe_int, "ct": CIPHERTEXT})
_TYPING = FrameSchema("typing", {"chat": CHAT_ID, "on": _bool})
# `chat` and `seq` name the message an error refers to when it was not relayed (`undelivered`, `rate_limited`).
_ERROR = FrameSchema("error", {"code": _one_of(*ERROR_CODES), "message": _text(200)},
                     {"chat": CHAT_ID, "seq": _safe_int})

SCHEMAS: Final[dict[str, dict[str, FrameSchema]]] = {
    VISITOR_TO_SERVER: _schemas(
        FrameSchema("join", {"v": _one_of(PROTOCOL_VERSION), "vk": PUBLIC_KEY, "ik": PUBLIC_KEY, "vsig": SIGNATURE,
                             "lang": _one_of(*LANGS)}, {"pow": _pow}),
        FrameSchema("resume", {"resume": RESUME_TOKEN, "vk": PUBLIC_KEY, "ik": PUBLIC_KEY, "vsig": SIGNATURE}),
        _MSG,
        _TYPING,
        FrameSchema("leave", {"chat": CHAT_ID}, {"hurry": _bool}),
        FrameSchema("rent", {"chat": CHAT_ID, "pow": _pow}),
    ),
    SERVER_TO_VISITOR: _schemas(
        FrameSchema("queued", {"chat": CHAT_ID, "position": _safe_int},
                    {"resume": RESUME_TOKEN, "reason": _one_of(*QUEUED_REASONS)}),
        FrameSchema("connected", {"chat": CHAT_ID, "epoch": _safe_int, "ck": PUBLIC_KEY, "sig": SIGNATURE,
                                  "cert": _cert}),
        FrameSchema("presence", {"chat": CHAT_ID, "peer": _one_of(*PRESENCE)}),
        _MSG,
        _TYPING,
        FrameSchema("ended", {"chat": CHAT_ID, "by": _one_of(*ENDED_BY)}, {"feedback": _text(200)}),
        _ERROR,
        FrameSchema("rent", {"chat": CHAT_ID, "challenge": _b64_of(max_length=64),
                             "iterations": _int_from(WORK_MIN_ITERATIONS, WORK_MAX_ITERATIONS),
                             "bits": _int_from(0, WORK_MAX_BITS), "due": _safe_int}),
    ),
    COUNSELLOR_TO_SERVER: _schemas(
        FrameSchema("available", {"on": _bool}),
        FrameSchema("accept", {"chat": CHAT_ID, "epoch": _safe_int, "ck": PUBLIC_KEY, "sig": SIGNATURE,
                               "device": DEVICE_ID}),
        _MSG,
        _TYPING,
        FrameSchema("transfer", {"chat": CHAT_ID, "to": _to}, {"bundle": _handover_bundle}),
        FrameSchema("end", {"chat": CHAT_ID}, {"wrapup": _wrapup}),
    ),
    SERVER_TO_COUNSELLOR: _schemas(
        FrameSchema("queue", {"chats": _queue_chats}),
        FrameSchema("rekey", {"chat": CHAT_ID, "epoch": _safe_int, "vk": PUBLIC_KEY, "ik": PUBLIC_KEY,
                              "vsig": SIGNATURE},
                    {"lang": _one_of(*LANGS), "waiting": _safe_int, "expires": _safe_int}),
        FrameSchema("presence", {"chat": CHAT_ID, "peer": _one_of(*PRESENCE)}, {"grace": _safe_int}),
        FrameSchema("handover", {"chat": CHAT_ID, "from": _text(80), "bundle": _handover_bundle}),
        FrameSchema("transferred", {"chat": CHAT_ID, "outcome": _one_of(*TRANSFER_OUTCOMES)}),
        _MSG,
        _TYPING,
        FrameSchema("ended", {"chat": CHAT_ID, "by": _one_of(*ENDED_BY)},
                    {"wrapup_token": _text(200), "hurry": _bool}),
        _ERROR,
    ),
}


@dataclass(frozen=True)
class Frame:
    """A frame that passed its schema: its type, its fields, and the exact text it arrived as (for relaying)."""

    type: str
    fields: dict[str, Any]
    text: str

    @property
    def chat(self) -> str | None:
        chat = self.fields.get("chat")
        return chat if isinstance(chat, str) else None


@dataclass(frozen=True)
class FrameError:
    """Why a frame was refused; `code` is always `bad_frame` (protocol.md §8)."""

    message: str
    code: str = "bad_frame"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two readers could take different values of a repeated key; such a frame is never relayed.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@functools.cache
def strict_decoder() -> json.JSONDecoder:
    """A JSON decoder that refuses duplicate keys and NaN/Infinity (built once: the hooks are defined below)."""
    return json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)


def _json_text(text: str | bytes, max_bytes: int) -> str | None:
    """The frame as text for the JSON decoder (None: larger than `max_bytes`); UnicodeDecodeError if it is none."""
    if isinstance(text, str) and text[:1] == "{" and len(text) <= max_bytes // 4:
        # A frame as Daphne hands it over: text, short enough that its UTF-8 (at most 4 bytes a character)
        # is within the limit, and beginning like an object, so nothing is to be detected or stripped first.
        return text
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(raw) > max_bytes:
        return None
    return raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads(raw) reads bytes


def parse_json_object(text: str | bytes, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any] | FrameError:
    """Parse one strict JSON object (no duplicate keys, no NaN) of at most `max_bytes`."""
    try:
        source = _json_text(text, max_bytes)
        if source is None:
            return FrameError("The frame is larger than 64 KiB.")
        # One decoder for every frame (json.loads builds one per call with these hooks: 1.6 % of the
        # server's CPU when relaying, docs/performance.md).
        data = strict_decoder().decode(source)
    except (ValueError, RecursionError):
        return FrameError("The frame is not valid JSON.")
    if not isinstance(data, dict):
        return FrameError("A frame must be a JSON object.")
    return data


def check_fields(schema: FrameSchema, data: Mapping[str, Any]) -> FrameError | None:
    """None when `data` (without `type`) has exactly the schema's fields, each passing its check."""
    names = data.keys() - {"type"}
    if not schema.required_names <= names:
        return FrameError(f"A {schema.type} frame needs {', '.join(sorted(schema.required_names - names))}.")
    if not names <= schema.fields:
        return FrameError(f"A {schema.type} frame has no field {', '.join(sorted(names - schema.fields))}.")
    for name in sorted(names):
        check = schema.required.get(name) or schema.optional[name]
        try:
            check(data[name])
        except FieldError as error:
            return FrameError(f"{name} {error}.")
    return None


def validate_frame(direction: str, text: str | bytes) -> Frame | FrameError:
    """Check one incoming or outgoing frame against the schema for `direction` (one of DIRECTIONS)."""
    schemas = SCHEMAS[direction]
    data = parse_json_object(text)
    if isinstance(data, FrameError):
        return data
    frame_type = data.get("type")
    if not isinstance(frame_type, str) or frame_type not in schemas:
        return FrameError("Unknown frame type.")
    problem = check_fields(schemas[frame_type], data)
    if problem is not None:
        return problem
    decoded = text if isinstance(text, str) else text.decode("utf-8")
    return Frame(type=frame_type, fields=data, text=decoded)


def server_frame(direction: str, frame_type: str, **fields: Any) -> dict[str, Any]:
    """Build a frame the server sends, checked against its schema (a bug here is ours, so it raises)."""
    problem = check_fields(SCHEMAS[direction][frame_type], fields)
    if problem is not None:
        raise ValueError(f"server built a bad {frame_type} frame: {problem.message}")
    return {"type": frame_type, **fields}


def wrapup_dimensions(wrapup: Mapping[str, Any]) -> list[str]:
    """The counter dimensions `<category>.<code>` of a validated wrap-up, each once."""
    dimensions: set[str] = set()
    for category, codes in wrapup.items():
        for code in codes if isinstance(codes, list) else [codes]:
            dimensions.add(f"{category}.{code}")
    return sorted(dimensions)

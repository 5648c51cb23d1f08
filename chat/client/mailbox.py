"""The Python client for secure messages (docs/mailbox.md): a visitor with a codename, and a counsellor device.

An optional part of the client, like the chat: everything cryptographic comes from ``securemessages.crypto``
and ``securemessages.envelope``; this module adds the HTTP steps. Every counsellor device is checked against
the organisation key the caller pins, and every answer's signature against its device's certificate.

    visitor = MailboxVisitor(base_url, org_public_key=key)
    codename = await visitor.write("Hello", lang="en")
    ... later ...
    messages = await MailboxVisitor(base_url, org_public_key=key).open(codename)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat.client.base import ChatClientError
from chat.client.counsellor import DeviceIdentity
from chat.client.http import HttpError, StaffSession, _cookieless_opener, _request
from chat.client.visitor import solve_work
from chat.protocol import crypto as protocol
from securemessages import crypto, envelope

WORDLISTS = Path(crypto.__file__).resolve().parent / "wordlists"


@dataclass(frozen=True)
class MailboxMessage:
    """One message as a reader sees it: who wrote it (verified), on which day, and its text."""

    id: str
    sender: str
    pseudonym: str
    day: str
    text: str


class MailboxNotFound(ChatClientError):
    """The server's one answer for a wrong codename, a deleted thread and an expired one."""


def words(lang: str) -> list[str]:
    return (WORDLISTS / f"{lang}.txt").read_text(encoding="ascii").split()


def verified_team(devices: list[dict[str, Any]], org_public_key: str, today: dt.date) -> dict[str, bytes]:
    """{device id: ek point} of every team device whose certificate and ek binding verify."""
    team: dict[str, bytes] = {}
    for entry in devices:
        try:
            cert = protocol.verify_certificate(entry["cert"], protocol.b64d(org_public_key), today)
        except (KeyError, TypeError, protocol.CertificateError):
            continue
        if crypto.verify_ek_binding(cert.device_public_raw, cert.device, entry.get("ek", ""), entry.get("ek_sig", "")):
            team[cert.device] = protocol.b64d(entry["ek"])
    return team


def sender_of(message: dict[str, Any], thread: str, sk: str, org_public_key: str) -> str | None:
    """The pseudonym of a verified sender ("" for the visitor), or None when the signature does not verify."""
    if message["from"] == crypto.VISITOR:
        ok = crypto.verify_message(protocol.b64d(sk), thread, message["id"], "visitor", message["ct"], message["sig"])
        return "" if ok else None
    try:
        cert = protocol.verify_certificate(message["cert"], protocol.b64d(org_public_key),
                                           dt.date.fromisoformat(message["day"]))
    except (KeyError, TypeError, ValueError):
        return None
    ok = cert.device == message["from"] and crypto.verify_message(
        cert.device_public_raw, thread, message["id"], message["from"], message["ct"], message["sig"])
    return cert.pseudonym if ok else None


def open_message(message: dict[str, Any], thread: str, sk: str, org_public_key: str, recipient: str,
                 own_private: Any) -> MailboxMessage:
    pseudonym = sender_of(message, thread, sk, org_public_key)
    if pseudonym is None:
        raise ChatClientError(f"message {message['id']} does not verify")
    content_key = crypto.unwrap_content_key(own_private, message["key"], thread, message["id"], recipient)
    body = crypto.open_body(content_key, thread, message["id"], message["from"], message["ct"])
    return MailboxMessage(id=message["id"], sender=message["from"], pseudonym=pseudonym, day=message["day"],
                          text=str(body.get("body", "")))


class MailboxVisitor:
    """A visitor's side: write a first message (which makes the codename), open, reply, delete."""

    def __init__(self, base_url: str, *, org_public_key: str, extra_headers: dict[str, str] | None = None,
                 iterations: int = crypto.PBKDF2_ITERATIONS) -> None:
        self.base_url = base_url
        self.org_public_key = org_public_key
        self.headers = dict(extra_headers or {})
        self.iterations = iterations
        self.keys: crypto.CodenameKeys | None = None

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json", **self.headers}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        status, _final, text = await asyncio.to_thread(_request, _cookieless_opener(), method,
                                                        self.base_url + path, data=data, headers=headers)
        return status, (json.loads(text) if text.strip() else None)

    async def _expect(self, method: str, path: str, body: Any, expect: tuple[int, ...]) -> Any:
        status, answer = await self._call(method, path, body)
        if status == 404 and 404 not in expect:
            raise MailboxNotFound(str(answer))
        if status not in expect:
            raise HttpError(method, self.base_url + path, status, json.dumps(answer))
        return answer

    async def proof_of_work(self, action: str) -> dict[str, str]:
        """Fetch the challenge for one request (write, reply, open or delete) and solve it (in a thread)."""
        challenge = await self._expect("GET", f"/mailbox/pow/?for={action}", None, (200,))
        return await solve_work(challenge["challenge"], int(challenge["iterations"]), int(challenge["bits"]))

    async def recipients(self) -> dict[str, bytes]:
        assert self.keys is not None
        devices = (await self._expect("GET", "/mailbox/team/", None, (200,)))["devices"]
        team = verified_team(devices, self.org_public_key, protocol.utc_today())
        if not team:
            raise ChatClientError("no counsellor device can read messages yet")
        return {crypto.MAILBOX_RECIPIENT: protocol.public_key_bytes(self.keys.box_private), **team}

    def _seal(self, text: str, recipients: dict[str, bytes]) -> dict[str, Any]:
        assert self.keys is not None
        return envelope.build_envelope(self.keys.thread, crypto.VISITOR, self.keys.sign_private,
                                       {"t": "text", "body": text}, recipients)

    async def write(self, text: str, lang: str = "en", codename: str | None = None) -> str:
        """Start a thread with ``text``; returns the codename (8 words of the language's list unless given)."""
        codename = codename or crypto.make_codename(words(lang))
        self.keys = await asyncio.to_thread(crypto.derive_codename_keys, codename, self.iterations)
        msg = self._seal(text, await self.recipients())
        keys = self.keys
        await self._expect("POST", "/mailbox/threads/", {
            "v": 1, "thread": keys.thread, "access": keys.access_b64, "lang": lang, "mk": keys.mk, "sk": keys.sk,
            "msg": msg, "pow": await self.proof_of_work("write")}, (201,))
        return codename

    async def open(self, codename: str | None = None) -> list[MailboxMessage]:
        """The thread's messages, decrypted and verified; MailboxNotFound for the generic 404."""
        if codename is not None:
            self.keys = await asyncio.to_thread(crypto.derive_codename_keys, codename, self.iterations)
        keys = self.keys
        if keys is None:
            raise ChatClientError("no codename")
        thread = await self._expect("POST", "/mailbox/open/", {"access": keys.access_b64,
                                                               "pow": await self.proof_of_work("open")}, (200,))
        if (thread["thread"], thread["mk"], thread["sk"]) != (keys.thread, keys.mk, keys.sk):
            raise ChatClientError("the server answered with another thread's keys")
        return [open_message(message, keys.thread, keys.sk, self.org_public_key, crypto.MAILBOX_RECIPIENT,
                             keys.box_private) for message in thread["messages"]]

    async def reply(self, text: str) -> None:
        assert self.keys is not None
        msg = self._seal(text, await self.recipients())
        await self._expect("POST", "/mailbox/reply/", {"access": self.keys.access_b64,
                                                       "pow": await self.proof_of_work("reply"), "msg": msg}, (201,))

    async def delete(self) -> None:
        assert self.keys is not None
        await self._expect("POST", "/mailbox/delete/", {"access": self.keys.access_b64,
                                                        "pow": await self.proof_of_work("delete")}, (204,))
        self.keys = None


class MailboxCounsellor:
    """A counsellor device's side: register its encryption key, list, read, answer, share and close threads."""

    def __init__(self, staff: StaffSession, device: DeviceIdentity, *, org_public_key: str) -> None:
        self.staff = staff
        self.device = device
        self.org_public_key = org_public_key
        self.encryption_key = protocol.generate_private_key()

    @property
    def ek(self) -> str:
        return protocol.b64e(protocol.public_key_bytes(self.encryption_key))

    async def register(self) -> None:
        """POST the device's encryption key, vouched for by its certified signing key."""
        sig = crypto.sign_ek_binding(self.device.private_key, self.device.device, self.ek)
        await self.staff.json("POST", "/mailbox/staff/device-key/",
                              {"device": self.device.device, "ek": self.ek, "ek_sig": sig}, expect=(200,))

    async def threads(self) -> list[dict[str, Any]]:
        answer = await self.staff.json("GET", "/mailbox/staff/threads/")
        return list(answer["threads"])

    async def thread(self, thread: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.staff.json("GET", f"/mailbox/staff/threads/{thread}/?device="
                                                       f"{self.device.device}")
        return answer

    async def read(self, thread: str) -> list[MailboxMessage]:
        detail = await self.thread(thread)
        return [open_message(message, thread, detail["sk"], self.org_public_key, self.device.device,
                             self.encryption_key) for message in detail["messages"] if message["key"]]

    async def team(self) -> dict[str, bytes]:
        devices = (await self.staff.json("GET", "/mailbox/team/"))["devices"]
        return verified_team(devices, self.org_public_key, protocol.utc_today())

    async def reply(self, thread: str, text: str) -> None:
        detail = await self.thread(thread)
        recipients = {crypto.MAILBOX_RECIPIENT: protocol.b64d(detail["mk"]), **await self.team()}
        msg = envelope.build_envelope(thread, self.device.device, self.device.private_key,
                                      {"t": "text", "body": text}, recipients)
        await self.staff.json("POST", f"/mailbox/staff/threads/{thread}/reply/", {"msg": msg}, expect=(201,))

    async def share(self, thread: str) -> int:
        """Wrap the keys of messages this device reads to team devices that lack them; returns how many."""
        detail, team = await self.thread(thread), await self.team()
        keys: dict[str, dict[str, Any]] = {}
        for message in detail["messages"]:
            missing = [device for device in message["unshared"] if device in team]
            if not message["key"] or not missing:
                continue
            content_key = crypto.unwrap_content_key(self.encryption_key, message["key"], thread, message["id"],
                                                    self.device.device)
            keys[message["id"]] = {device: crypto.wrap_content_key(content_key, team[device], thread, message["id"],
                                                                   device).as_json() for device in missing}
        if not keys:
            return 0
        answer = await self.staff.json("POST", f"/mailbox/staff/threads/{thread}/keys/", {"keys": keys})
        return int(answer["added"])

    async def close(self, thread: str, wrapup: dict[str, Any]) -> None:
        status, _final, text = await asyncio.to_thread(self.staff.request, "POST",
                                                       f"/mailbox/staff/threads/{thread}/close/",
                                                       json_body={"wrapup": wrapup})
        if status != 204:
            raise HttpError("POST", f"/mailbox/staff/threads/{thread}/close/", status, text)


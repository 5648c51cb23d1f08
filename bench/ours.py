"""Our server under the same load: the embedded default's Daphne, with the Python chat client (chat.client)
as visitors and counsellors. Each pair is one visitor socket and one counsellor socket holding that chat."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import KEY_LENGTH, Pair, PairFactory, Stats, padding_for
from bench.stack import REPO, Process, certify_pending, clean_env, free_port, http_answers, wait_for_port, wait_until

# What protocol.md wraps around the text of a message once it is encrypted and base64-encoded. The protocol
# pads short bodies up to a fixed size, so a chat frame is never smaller than ~435 bytes (the table says).
CHAT_TEXT_BYTES = 190
# One person may hold every chat of the load test (the cap is a staffing rule, not a server limit).
OPEN_CAP = ("from chat.models import ServiceSettings as S; s = S.current(); s.per_counsellor_cap = 30000; "
            "s.save()")


@dataclass
class Server:
    """A process we start (bench.stack.Process), wait for, stop, and read /proc of."""

    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    process: Process | None = None

    def launch(self) -> Process:
        self.process = Process(self.log.stem, self.argv, self.log.parent, env=self.env)
        self.process.start()
        return self.process

    def start(self, ready: str, timeout: float = 90) -> None:
        """Start, then wait until `ready` (a URL) answers."""
        process = self.launch()
        try:
            wait_until(lambda: http_answers(ready), process, f"answer {ready}", timeout)
        except RuntimeError:
            self.stop()
            raise

    def start_listening(self, timeout: float = 30) -> None:
        """Start, then wait until the port accepts connections (for servers that answer HTTP with an error)."""
        process = self.launch()
        try:
            wait_for_port(self.port, process, timeout)
        except RuntimeError:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.process = None


def our_env(var: Path) -> dict[str, str]:
    return clean_env() | {"DJANGO_SETTINGS_MODULE": "bench.settings", "HELPLINE_VAR_DIR": str(var),
                          "HELPLINE_QUICK_EXIT_URL": "about:blank"}


def start_our_server(folder: Path) -> Server:
    port = free_port()
    server = Server([sys.executable, "-m", "helpline.embedded", "--port", str(port)], our_env(folder / "var"),
                    port, folder / "daphne.log")
    server.start(f"http://127.0.0.1:{port}/en/")
    subprocess.run([sys.executable, "manage.py", "shell", "-c", OPEN_CAP], cwd=REPO, env=server.env, check=True,
                   capture_output=True, timeout=60)
    return server


@dataclass
class Counsellors:
    """One signed-in counsellor with a certified device; each pair opens its own socket on that session.

    The embedded default certifies the device itself (demo); given `org_private_key` (the scaled mode, whose
    production settings do not), an operator's `manage.py certify_device` does, as in production."""

    base_url: str
    env: dict[str, str]
    org_private_key: Path | None = None
    staff: Any = None
    device: Any = None

    async def sign_in(self) -> None:
        from chat.client.counsellor import enrol_device
        from chat.client.http import sign_in_staff

        var = Path(self.env["HELPLINE_VAR_DIR"])
        password = json.loads((var / "demo_credentials.json").read_text())["demo-counsellor"]

        def code() -> str:
            result = subprocess.run([sys.executable, "manage.py", "demo_code", "demo-counsellor"], cwd=REPO,
                                    env=self.env, capture_output=True, text=True, check=True, timeout=60)
            return result.stdout.split()[0]

        self.staff = await sign_in_staff(self.base_url, "demo-counsellor", password, code)
        enrolling = asyncio.ensure_future(enrol_device(self.staff, timeout=120))
        if self.org_private_key is not None:
            try:
                await asyncio.to_thread(certify_pending, self.env, "demo-counsellor", self.org_private_key)
            except BaseException:
                enrolling.cancel()
                raise
        self.device = await enrolling


class ChatPair(Pair):
    def __init__(self, visitor: Any, holder: Any, own: Any, chat: str, readers: list[asyncio.Task[None]],
                 stats: Stats) -> None:
        # `holder` is the counsellor socket the server gave this chat to; `own` the one this pair opened.
        self.visitor, self.holder, self.own, self.chat, self.readers = visitor, holder, own, chat, readers
        self.stats = stats

    async def send(self, side: int, key: str) -> None:
        text = padding_for(key, CHAT_TEXT_BYTES)
        client = self.visitor if side == 0 else self.holder
        frame = await (self.visitor.send_text(text) if side == 0 else self.holder.send_text(self.chat, text))
        self.stats.sent_as[(id(client), self.chat, frame["seq"])] = key

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.visitor.leave()
        for reader in self.readers:
            reader.cancel()
        await self.visitor.close()
        await self.own.close()


ARRIVAL_PAUSE_SECONDS = 0.5


def holder_future(registry: dict[str, asyncio.Future[Any]], chat: str) -> asyncio.Future[Any]:
    if chat not in registry:
        registry[chat] = asyncio.get_running_loop().create_future()
    return registry[chat]


async def read_events(client: Any, stats: Stats, registry: dict[str, asyncio.Future[Any]] | None) -> None:
    """Take every event the client buffers: messages are timed, a counsellor's new chats are registered,
    the rest (queue updates…) dropped so the buffer stays short."""
    from chat.client import Connected, Event, MessageReceived, ServerError

    with contextlib.suppress(asyncio.CancelledError):
        while True:
            try:
                event = await client.wait_for(Event, timeout=3600)
            except Exception:
                return
            # Every relayed frame (texts and receipts) reached this client as a `msg`.
            stats.frames += sum(1 for frame in client.received_frames if frame.get("type") == "msg")
            if isinstance(event, MessageReceived) and client.received_frames:
                stats.frame_bytes.append(len(json.dumps(client.received_frames[-1], separators=(",", ":"))))
            client.received_frames.clear()
            client.sent_frames.clear()
            if isinstance(event, MessageReceived):
                stats.note_received(event.text[:KEY_LENGTH])
            elif isinstance(event, ServerError) and event.code == "rate_limited" and event.seq is not None:
                stats.note_refused(stats.sent_as.pop((id(client), event.chat, event.seq), None))
            elif isinstance(event, Connected) and registry is not None:
                future = holder_future(registry, event.chat)
                if not future.done():
                    future.set_result(client)


def chat_factory(base_url: str, org_public_key: str, counsellors: Counsellors, setup_concurrency: int = 1
                 ) -> PairFactory:
    from chat.client import Connected, CounsellorClient, VisitorClient

    registry: dict[str, asyncio.Future[Any]] = {}
    # One chat per counsellor socket, as in the baseline's pairs: while this socket is the only available one,
    # the next queued chat is its. Setting up pairs one at a time also makes "connect" the handshake alone.
    # Large ladders set up a few at once (--setup-concurrency): a socket may then hold two chats and
    # "connect" includes waiting behind the others being set up.
    setting_up = asyncio.Semaphore(setup_concurrency)

    async def make(index: int, stats: Stats, arriving: bool = False) -> Pair:
        async with setting_up:
            return await make_one(stats, arriving)

    async def make_one(stats: Stats, arriving: bool) -> Pair:
        started = time.perf_counter()
        own = CounsellorClient(counsellors.staff, counsellors.device)
        await own.open()
        readers = [asyncio.create_task(read_events(own, stats, registry))]
        await own.set_available(True)
        if arriving:
            # The console is open and available before the visitor comes. The server does not answer
            # `available`; a pause lets it be read first (were it not, the visitor's time would include the
            # wait for it, which only makes ours look slower).
            await asyncio.sleep(ARRIVAL_PAUSE_SECONDS)
            started = time.perf_counter()
        visitor = VisitorClient(base_url, org_public_key=org_public_key)
        try:
            await visitor.join("en")
            connected = await visitor.wait_for(Connected, timeout=60)
            holder = await asyncio.wait_for(holder_future(registry, connected.chat), timeout=60)
        except BaseException:
            for reader in readers:
                reader.cancel()
            await visitor.close()
            await own.close()
            raise
        stats.connect_ms.append((time.perf_counter() - started) * 1000)
        await own.set_available(False)
        readers.append(asyncio.create_task(read_events(visitor, stats, None)))
        return ChatPair(visitor, holder, own, connected.chat, readers, stats)

    return make
def org_public_key(server: Server) -> str:
    return (Path(server.env["HELPLINE_VAR_DIR"]) / "org_public_key.txt").read_text().strip()


def temporary_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="helpline-bench-"))

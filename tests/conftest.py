"""Shared fixtures: a real Daphne process started as `make run` starts it, and helpers to read what it wrote."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


# Under pytest-xdist each worker takes ports from a block of its own, below Linux's ephemeral range
# (32768-60999), so two workers never pick the same port (bind-to-0 could hand both the same one between a
# probe and a server's bind) and no outgoing connection holds one.
WORKER_PORT_BLOCK = 200  # 64 workers fit below 32768
_ports_taken: list[int] = []


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    first = 20000 + int(worker[2:]) * WORKER_PORT_BLOCK
    for port in range(first, first + WORKER_PORT_BLOCK):
        if port in _ports_taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_taken.append(port)
        return port
    raise RuntimeError(f"no free port left in {worker}'s block from {first}")


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start within {timeout}s")


# The test authenticator, run beside a server with its settings: an authenticator app whose clock is moved on to
# the step after the one the server last accepted, when that is later than now. The server refuses a step it has
# accepted (replay) and accepts one step ahead (django_otp's tolerance, which also moves the device's drift on),
# so a test signs the same account in again at once instead of waiting up to 30 s for the next step; what the
# server checks is unchanged. `make code` (manage.py demo_code) is what a person uses; it shows the current step.
TEST_AUTHENTICATOR = """
import sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP
from helpline.accounts.actions import confirmed_totp_device
device = confirmed_totp_device(get_user_model().objects.get(username=sys.argv[1]))
totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
totp.time = time.time()
steps_ahead = max(0, device.last_t + 1 - totp.t())
totp.time += steps_ahead * device.step
print(f"{totp.token():0{device.digits}d}")
"""


def next_demo_code(env: dict[str, str], username: str) -> str:
    """The demo account's next code from the test authenticator, beside the server whose environment is `env`."""
    result = subprocess.run([sys.executable, "-c", TEST_AUTHENTICATOR, username], cwd=REPO, env=env,
                            capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"the test authenticator failed: {result.stdout}{result.stderr}")
    return result.stdout.split()[0]


@dataclass
class LiveServer:
    """A Daphne process of ours, with its own data folder and captured output."""

    port: int
    var_dir: Path
    stdout_path: Path
    stderr_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.var_dir / "helpline.sqlite3"

    def start(self) -> None:
        out = self.stdout_path.open("ab")
        err = self.stderr_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helpline.embedded", "--port", str(self.port), *self.extra_args],
            cwd=REPO, env=self.env, stdout=out, stderr=err,
        )
        try:
            wait_for_http(f"{self.base_url}/en/")
        except RuntimeError:
            self.stop()
            raise RuntimeError(self.output()) from None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def demo_code(self, username: str) -> str:
        return next_demo_code(self.env, username)

    def end_every_chat(self) -> None:
        """End every chat the server holds, as the periodic sweep would after everyone left (tests share one
        server: a chat a test left behind would come back to the next console that signs in as the same person,
        and count against that person's cap)."""
        if not self.holds_chats():
            return  # most tests leave none: a management command costs ~3 s of Django start-up
        result = subprocess.run([sys.executable, "manage.py", "purge_chat_state", "--older-than-minutes", "0"],
                                cwd=REPO, env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"purge_chat_state failed: {result.stdout}{result.stderr}")

    def holds_chats(self) -> bool:
        """Whether the server's database has any chat row (an ended chat's row is deleted), read directly."""
        import sqlite3

        if not self.database.exists():
            return False
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)) as db:
            return bool(db.execute("SELECT EXISTS (SELECT 1 FROM chat_chat)").fetchone()[0])

    def demo_password(self, username: str) -> str:
        import json

        passwords: dict[str, str] = json.loads((self.var_dir / "demo_credentials.json").read_text())
        return passwords[username]

    @property
    def org_public_key(self) -> str:
        return (self.var_dir / "org_public_key.txt").read_text().strip()

    async def available_counsellor(self) -> Any:
        """The demo counsellor signed in with the Python client, device enrolled, socket open and available."""
        from chat.client import CounsellorClient
        from chat.client.counsellor import enrol_device
        from chat.client.http import sign_in_staff

        staff = await sign_in_staff(self.base_url, "demo-counsellor", self.demo_password("demo-counsellor"),
                                    lambda: self.demo_code("demo-counsellor"), code_attempts=1)
        counsellor = CounsellorClient(staff, await enrol_device(staff))
        await counsellor.open()
        await counsellor.set_available(True)
        return counsellor


def make_live_server(tmp: Path, **env_overrides: str) -> LiveServer:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELPLINE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "helpline.settings.dev", "HELPLINE_VAR_DIR": str(tmp / "var"),
                "PYTHONUNBUFFERED": "1",
                # The Python client solves puzzles with hashlib, far slower than a browser's WebCrypto: a light
                # modelled phone keeps joins and rent in tests small (the real prices: tests/unit/test_chat_pow.py).
                "HELPLINE_CHAT_POW_PHONE_RATE": "20000"})
    env.update(env_overrides)
    tmp.mkdir(parents=True, exist_ok=True)
    return LiveServer(port=free_port(), var_dir=tmp / "var", stdout_path=tmp / "daphne.out",
                      stderr_path=tmp / "daphne.err", env=env)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real Daphne process for the whole session, started like `make run`."""
    server = make_live_server(tmp_path_factory.mktemp("live"), HELPLINE_QUICK_EXIT_URL="about:blank")
    server.start()
    yield server
    server.stop()


def own_live_server(tmp: Path, **env_overrides: str) -> Iterator[LiveServer]:
    """A fixture's body: a Daphne process of the test's own, with these settings, stopped afterwards."""
    server = make_live_server(tmp, HELPLINE_QUICK_EXIT_URL="about:blank", **env_overrides)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A Daphne process of the test's own, for tests that restart, kill or audit it."""
    yield from own_live_server(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def collected_static() -> None:
    """Pages name content-hashed files (helpline/assets.py): collect once, as `make run` does at start."""
    from django.core.management import call_command

    call_command("collectstatic", verbosity=0, interactive=False)


@pytest.fixture(autouse=True)
def _live_server_helper() -> None:
    """Replaces pytest-django's hook for its own `live_server`, which ours (a real Daphne) overrides."""


def staff_client(user: Any, *, verified: bool = True) -> Any:
    """A Django test client signed in as `user`, with the second factor verified unless told otherwise."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from helpline.accounts.models import SealedTOTPDevice

    client = Client()
    client.force_login(user)
    if verified:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = SealedTOTPDevice.objects.get(user=user).persistent_id
        session.save()
    return client


def staff_client_with_role(role: str, *, verified: bool = True) -> tuple[Any, Any]:
    """A new staff member with `role` and an authenticator, and a client signed in as them."""
    from helpline.accounts.actions import create_staff

    user, _ = create_staff(f"user-{role}", "a-long-test-password-1", [role], with_totp=True)
    return staff_client(user, verified=verified), user

"""The HTTP steps around the chat: proof-of-work challenges, visitor feedback, staff sign-in and the device API.

Plain ``urllib`` (no extra dependency), run in a worker thread so the asyncio clients stay responsive; the
visitor's one GET (the join's challenge) on the event loop itself (`get_on_loop`).
A visitor's requests carry no cookie at all; a staff session keeps its cookies in a jar of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import inspect
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# The same header set a browser would send for a same-origin fetch; no user agent worth the name.
USER_AGENT = "helpline-client/1"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TIMEOUT = 20.0

CodeSource = Callable[[], str] | Callable[[], Awaitable[str]]


class HttpError(RuntimeError):
    """A request answered with an unexpected status; ``status`` and the body are kept for the caller."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} answered {status}: {body[:200]}")
        self.status = status
        self.body = body


def _request(
    opener: urllib.request.OpenerDirector,
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Send one request; return (status, final URL, body). HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310 (http(s) URLs only)
                                     headers={"User-Agent": USER_AGENT, **(headers or {})})
    if not url.startswith(("http://", "https://")):
        raise ValueError("only http(s) URLs are allowed")
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return response.status, response.geturl(), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, url, error.read().decode("utf-8", "replace")


async def get_on_loop(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """One cookieless GET on this event loop, no worker thread; (status, body).

    A visitor's first step is on the clock (a browser's fetch runs beside its page): in a client that also
    drives thousands of sockets, urllib on a worker thread waited for the interpreter at every socket call,
    some 50 ms a request at 2,000 chats, none of it the server's (docs/performance.md). HTTP/1.0, so the
    answer is the rest of the connection: no chunking, no keep-alive.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("only http(s) URLs are allowed")
    secure = parts.scheme == "https"
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        parts.hostname, parts.port or (443 if secure else 80), ssl=ssl.create_default_context() if secure else None),
        TIMEOUT)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.0", f"Host: {parts.netloc}", f"User-Agent: {USER_AGENT}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise HttpError("GET", url, 0, head[:200].decode("latin-1"))
    return int(status_line[1]), body.decode("utf-8", "replace")


def _cookieless_opener() -> urllib.request.OpenerDirector:
    # No proxy from the environment: the client talks to the server it was given, nothing else.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


async def fetch_pow_challenge(base_url: str) -> dict[str, Any]:
    """GET /chat/pow/ → {"challenge": C, "iterations": I, "bits": N} (protocol.md §9)."""
    url = f"{base_url}/chat/pow/"
    status, body = await get_on_loop(url, {"Accept": "application/json"})
    if status != 200:
        raise HttpError("GET", url, status, body)
    answer: dict[str, Any] = json.loads(body)
    return answer


async def send_feedback(base_url: str, token: str, rating: int | None, helped: bool | None) -> int:
    """POST /chat/feedback/ with the one-time token from the ``ended`` frame; returns the HTTP status.

    The visitor has no cookie and so no CSRF token: the one-time token is what authorises the request.
    """
    url = f"{base_url}/chat/feedback/"
    payload = json.dumps({"feedback": token, "rating": rating, "helped": helped}).encode()
    status, _final, _body = await asyncio.to_thread(
        _request, _cookieless_opener(), "POST", url, data=payload,
        headers={"Content-Type": "application/json", "Origin": base_url},
    )
    return status


ORG_KEY_LINK = re.compile(r'<link rel="modulepreload" href="([^"]+)" integrity="(sha384-[^"]+)" id="org-key-module">')
ORG_KEY_EXPORT = re.compile(r'export const ORG_PUBLIC_KEY = "([A-Za-z0-9_-]+)";')


async def fetch_org_public_key(base_url: str, lang: str = "en") -> str:
    """Read the organisation key the way the visitor's page gets it: the page's SRI-pinned org-key module.

    Trust on first use, for tests and benchmarks only. A real client must carry the organisation key
    itself (that is what pinning means): a key fetched from the server it is meant to check proves nothing
    against that server. This does check that the module matches the hash the page names.
    """
    import base64
    import hashlib

    opener = _cookieless_opener()
    page_url = f"{base_url}/{lang}/help/chat/"
    status, _final, page = await asyncio.to_thread(_request, opener, "GET", page_url)
    match = ORG_KEY_LINK.search(page) if status == 200 else None
    if match is None:
        raise HttpError("GET", page_url, status, "no pinned org-key module on the page")
    module_url = base_url + match.group(1).replace("&amp;", "&")
    status, _final, module = await asyncio.to_thread(_request, opener, "GET", module_url)
    digest = "sha384-" + base64.b64encode(hashlib.sha384(module.encode("utf-8")).digest()).decode("ascii")
    key = ORG_KEY_EXPORT.search(module)
    if status != 200 or digest != match.group(2) or key is None:
        raise HttpError("GET", module_url, status, "the org-key module does not match its integrity hash")
    return key.group(1)


@dataclass
class StaffSession:
    """A signed-in staff member's cookies (session and CSRF), usable for HTTP requests and the websocket."""

    base_url: str
    lang: str = "en"
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self) -> None:
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                    urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, suffix: str) -> str | None:
        """The value of the cookie whose name ends with ``suffix`` (``__Host-`` prefixes included)."""
        for cookie in self.jar:
            if cookie.name == suffix or cookie.name.endswith(f"-{suffix}"):
                return cookie.value
        return None

    def cookie_header(self) -> str:
        """All cookies of this session as one ``Cookie`` header value (for the websocket handshake)."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)

    @property
    def csrf_token(self) -> str:
        token = self.cookie("csrftoken")
        if not token:
            raise RuntimeError("no CSRF cookie yet: sign in first")
        return token

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                json_body: Any = None) -> tuple[int, str, str]:
        """A blocking request with this session's cookies; unsafe methods carry the CSRF token."""
        url = self.base_url + path
        headers: dict[str, str] = {}
        data: bytes | None = None
        if method not in {"GET", "HEAD"}:
            headers["X-CSRFToken"] = self.csrf_token
            headers["Origin"] = self.base_url
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
            headers["Accept"] = "application/json"
        return _request(self._opener, method, url, data=data, headers=headers)

    async def json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        """Send JSON (for unsafe methods) and return the decoded JSON answer; HttpError on another status."""
        status, _final, text = await asyncio.to_thread(self.request, method, path, json_body=body)
        if status not in expect:
            raise HttpError(method, self.base_url + path, status, text)
        return json.loads(text)

    def form_token(self, path: str) -> str:
        """GET a page and return its form's CSRF token (which also sets the CSRF cookie)."""
        status, _final, body = self.request("GET", path)
        if status != 200:
            raise HttpError("GET", self.base_url + path, status, body)
        match = CSRF_INPUT.search(body)
        return match.group(1) if match else self.csrf_token


TOTP_STEP_SECONDS = 30


async def sign_in_staff(base_url: str, username: str, password: str, code: CodeSource,
                        lang: str = "en", *, code_attempts: int = 2) -> StaffSession:
    """Sign in through the real pages, like a person: password form, then the second-factor form.

    ``code`` returns a current one-time code (e.g. ``lambda: live_server.demo_code(username)``); it is
    called only once the password step passed, so a TOTP code is as fresh as it can be. The server
    refuses a code for a time step it already accepted (no replays), so when this user signed in moments
    ago the first code is refused: then we wait for the next 30-second step and ask for a new code, up to
    ``code_attempts`` codes in all.
    """
    session = StaffSession(base_url=base_url, lang=lang)
    sign_in_path = f"/{lang}/staff/sign-in/"
    second_path = f"/{lang}/staff/sign-in/second-factor/"

    def password_step() -> str:
        token = session.form_token(sign_in_path)
        status, final, body = session.request(
            "POST", sign_in_path,
            form={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": ""},
        )
        if status != 200 or "/second-factor/" not in final:
            raise HttpError("POST", base_url + sign_in_path, status, body)
        # Signing in rotated the session and the CSRF token: read the new one from this page.
        match = CSRF_INPUT.search(body)
        return match.group(1) if match else session.csrf_token

    token = await asyncio.to_thread(password_step)

    def code_step(current_code: str) -> str | None:
        """Post the code; None when signed in, else the form's fresh CSRF token for another try."""
        status, final, body = session.request(
            "POST", second_path, form={"csrfmiddlewaretoken": token, "code": current_code, "next": ""},
        )
        if status == 200 and "/second-factor/" in final:
            match = CSRF_INPUT.search(body)
            return match.group(1) if match else session.csrf_token
        if status != 200 or "/sign-in/" in final:
            raise HttpError("POST", base_url + second_path, status, body)
        return None

    for attempt in range(code_attempts):
        if attempt:
            await asyncio.sleep(TOTP_STEP_SECONDS - time.time() % TOTP_STEP_SECONDS + 1)
        code_value = code()
        if inspect.isawaitable(code_value):
            code_value = await code_value
        assert isinstance(code_value, str)
        retry_token = await asyncio.to_thread(code_step, code_value)
        if retry_token is None:
            return session
        token = retry_token
    raise HttpError("POST", base_url + second_path, 200, "the one-time code was refused")

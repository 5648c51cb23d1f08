"""Queue rules as plain functions: opening hours and the next opening, queue length, order, positions, routing.

Nothing here touches the database or a socket; `chat.actions` feeds these functions rows and acts on the
answers, so every rule is tested on its own (tests/unit/test_chat_queue.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpline.languages import LANGUAGE_CODES

WEEK: dt.timedelta = dt.timedelta(days=7)


@dataclass(frozen=True)
class Interval:
    """Open from `opens` to `closes` on `weekday` (0 = Monday), local time."""

    weekday: int
    opens: dt.time
    closes: dt.time


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_open(now: dt.datetime, hours: Iterable[Interval], closed_days: Iterable[dt.date], time_zone: str) -> bool:
    """Whether the chat is open at `now` (aware). No hours configured at all means always open (the demo)."""
    hours = list(hours)
    local = now.astimezone(_zone(time_zone))
    if local.date() in set(closed_days):
        return False
    if not hours:
        return True
    moment = local.time().replace(tzinfo=None)
    return any(interval.weekday == local.weekday() and interval.opens <= moment < interval.closes
               for interval in hours)


# How far ahead the opening-time rules look: past this, "closed, no opening time known".
LOOKAHEAD_DAYS = 400


def _moments_of_day(day: dt.date, hours: Sequence[Interval], zone: ZoneInfo) -> list[dt.datetime]:
    """The moments of one local day at which the open/closed state can change: its midnight (a closed day
    starts or ends) and each interval's opening and closing time."""
    times = {dt.time(0)} | {t for i in hours if i.weekday == day.weekday() for t in (i.opens, i.closes)}
    return sorted(dt.datetime.combine(day, t, tzinfo=zone) for t in times)


def next_change(now: dt.datetime, hours: Iterable[Interval], closed_days: Iterable[dt.date],
                time_zone: str) -> dt.datetime | None:
    """The first moment after `now` (aware) at which `is_open` gives another answer than at `now`.

    When the chat is closed that is the next opening, when it is open the next closing; None when the state
    does not change within LOOKAHEAD_DAYS (no hours and no closed day ahead: always open). The state can
    only change at a local midnight or an interval's edge, so only those moments are tried, day by day.
    (An edge inside a daylight-saving gap, such as 02:30 on the night the clocks go forward, is read as
    zoneinfo reads it: up to an hour late.)
    """
    hours = list(hours)
    closed = set(closed_days)
    zone = _zone(time_zone)
    if not hours and not closed:
        return None
    state = is_open(now, hours, closed, time_zone)
    first_day = now.astimezone(zone).date()
    for offset in range(LOOKAHEAD_DAYS + 1):
        for moment in _moments_of_day(first_day + dt.timedelta(days=offset), hours, zone):
            if moment > now and is_open(moment, hours, closed, time_zone) != state:
                return moment
    return None


def next_opening(now: dt.datetime, hours: Iterable[Interval], closed_days: Iterable[dt.date],
                 time_zone: str) -> dt.datetime | None:
    """When the chat opens next: `now` itself when it is open, None when no opening is known (LOOKAHEAD_DAYS)."""
    hours = list(hours)
    closed = set(closed_days)
    if is_open(now, hours, closed, time_zone):
        return now
    return next_change(now, hours, closed, time_zone)


def queue_is_full(waiting_count: int, max_queue_length: int) -> bool:
    """A join is refused when this many chats already wait."""
    return waiting_count >= max_queue_length


@dataclass(frozen=True)
class Waiting:
    """A chat in the queue, as the rules see it."""

    chat: str
    lang: str
    waiting_since: dt.datetime
    front: bool = False
    reserved_for: int | None = None
    visitor_present: bool = True


def queue_order(chats: Iterable[Waiting]) -> list[Waiting]:
    """First come, first served; chats returned to the queue (their counsellor left, or handed them back) first."""
    return sorted(chats, key=lambda chat: (not chat.front, chat.waiting_since, chat.chat))


def queue_position(chat: str, chats: Iterable[Waiting]) -> int:
    """1-based place of `chat` in the queue; 0 when it is not waiting."""
    for index, entry in enumerate(queue_order(chats), start=1):
        if entry.chat == chat:
            return index
    return 0


def waiting_minutes(since: dt.datetime, now: dt.datetime) -> int:
    """Whole minutes waited, never negative."""
    return max(0, int((now - since).total_seconds() // 60))


def queue_listing(chats: Iterable[Waiting], now: dt.datetime) -> list[dict[str, object]]:
    """The counsellors' `queue` frame entries, in queue order, `waiting` in whole minutes."""
    return [{"chat": entry.chat, "lang": entry.lang, "waiting": waiting_minutes(entry.waiting_since, now)}
            for entry in queue_order(chats)]


@dataclass(frozen=True)
class Counsellor:
    """A counsellor socket: who, since when it takes new chats, how many chats that person holds, which languages,
    and whether it takes new chats at all (`available`)."""

    channel: str
    user: int
    available_since: dt.datetime
    holding: int
    languages: tuple[str, ...] = LANGUAGE_CODES
    available: bool = True


def under_cap(holding: int, cap: int) -> bool:
    return holding < cap


def speaks(counsellor: Counsellor, lang: str) -> bool:
    return lang in counsellor.languages


def route(chats: Sequence[Waiting], counsellors: Sequence[Counsellor], cap: int) -> list[tuple[str, str]]:
    """Pair waiting chats with available counsellor sockets: (chat, channel) offers, in queue order.

    A chat handed to a colleague goes only to that colleague, to any socket of theirs whether or not it takes new
    chats and whatever their cap (someone chose them; a hand-over that comes back to its sender is reserved for
    the sender the same way). Otherwise an available counsellor who holds the fewest chats, then who has been
    available longest, gets the next chat in their language, up to `cap` chats per person. A chat whose visitor is
    away cannot be offered: their key is with their socket.
    """
    holding = {c.user: c.holding for c in counsellors}
    offered_channels: set[str] = set()
    offers: list[tuple[str, str]] = []
    for chat in queue_order(c for c in chats if c.visitor_present):
        candidates = [c for c in counsellors if c.channel not in offered_channels and speaks(c, chat.lang)]
        if chat.reserved_for is not None:
            candidates = [c for c in candidates if c.user == chat.reserved_for]
        else:
            candidates = [c for c in candidates if c.available and under_cap(holding[c.user], cap)]
        if not candidates:
            continue
        chosen = min(candidates, key=lambda c: (holding[c.user], c.available_since, c.channel))
        holding[chosen.user] += 1
        offered_channels.add(chosen.channel)
        offers.append((chat.chat, chosen.channel))
    return offers


# Wait and duration are kept as bins only (privacy.md); same edges as the metrics catalogue.
BIN_EDGES_MINUTES: tuple[int, ...] = (1, 2, 5, 10, 20, 40)


def local_minutes_bin(seconds: float) -> str:
    """A fallback with privacy.md's bins, used only if the metrics app has no `minutes_bin`."""
    minutes = seconds / 60
    lower = 0
    for edge in BIN_EDGES_MINUTES:
        if minutes < edge:
            return f"<{edge}" if lower == 0 else f"{lower}-{edge}"
        lower = edge
    return f"{BIN_EDGES_MINUTES[-1]}+"

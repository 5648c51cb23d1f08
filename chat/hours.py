"""Whether the chat is open, as visitors see it: read once per request, put into words in the service's time zone.

The rules are chat.queue's (`is_open`, `next_change`); this module feeds them the rows and describes the
answer. Every chat link on a visitor page carries it (`{% chat_badge %}`, chat/templatetags/chat_hours.py),
rendered by the server so it needs no script. A cacheable page must never be reused past the moment the
state changes, so such pages cap their max-age with `cache_seconds` (selfhelp.views.cacheable).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from chat import queue
from chat.models import ClosedDay, OpeningHours, ServiceSettings

REQUEST_ATTRIBUTE = "_helpline_chat_status"


@dataclass(frozen=True)
class ChatStatus:
    """Open or closed at `checked_at`, and when that changes (None: not within chat.queue.LOOKAHEAD_DAYS)."""

    is_open: bool
    changes_at: dt.datetime | None
    time_zone: str
    checked_at: dt.datetime

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


def now() -> dt.datetime:
    return timezone.now()


def opening_rows(moment: dt.datetime, days_ahead: int) -> tuple[list[queue.Interval], list[dt.date], str]:
    """The weekly hours, the closed days around `moment` (up to `days_ahead`) and the service's time zone."""
    service = ServiceSettings.current()
    hours = [queue.Interval(h.weekday, h.opens, h.closes) for h in OpeningHours.objects.all()]
    closed = list(ClosedDay.objects.filter(
        date__gte=moment.date() - dt.timedelta(days=1),
        date__lte=moment.date() + dt.timedelta(days=days_ahead + 1)).values_list("date", flat=True))
    return hours, closed, service.time_zone


def is_open_at(moment: dt.datetime) -> bool:
    """Whether a visitor may join at `moment` (the rule chat.actions.join applies)."""
    hours, closed, time_zone = opening_rows(moment, 0)
    return queue.is_open(moment, hours, closed, time_zone)


def read_status(moment: dt.datetime) -> ChatStatus:
    """The state at `moment` from the opening hours, the closed days ahead and the service's time zone."""
    hours, closed, time_zone = opening_rows(moment, queue.LOOKAHEAD_DAYS)
    return ChatStatus(is_open=queue.is_open(moment, hours, closed, time_zone),
                      changes_at=queue.next_change(moment, hours, closed, time_zone),
                      time_zone=time_zone, checked_at=moment)


def status_for(request: Any) -> ChatStatus:
    """The state for this request, read once however many links on the page show it."""
    if request is None:
        return read_status(now())
    status = getattr(request, REQUEST_ATTRIBUTE, None)
    if status is None:
        status = read_status(now())
        setattr(request, REQUEST_ATTRIBUTE, status)
    return status


def cache_seconds(status: ChatStatus, limit: int) -> int:
    """How long a page showing `status` may be reused: `limit`, but never past the moment the state changes."""
    if status.changes_at is None:
        return limit
    remaining = (status.changes_at - status.checked_at).total_seconds()
    return max(0, min(limit, math.floor(remaining)))


def place_name(time_zone: str) -> str:
    """The place a time zone is named after: "Europe/Amsterdam" → "Amsterdam", "UTC" → "UTC"."""
    return time_zone.rsplit("/", 1)[-1].replace("_", " ")


def _when(moment: dt.datetime, today: dt.date) -> dict[str, str]:
    day = moment.date()
    return {"time": f"{moment:%H:%M}", "weekday": str(WEEKDAYS[day.weekday()]),
            "date": formats.date_format(day, "j F"), "days": str((day - today).days)}


def describe(status: ChatStatus) -> dict[str, str]:
    """The badge's words: `short` for the navigation, `long` with the next opening or closing time."""
    short = _("open") if status.is_open else _("closed")
    if status.changes_at is None:
        return {"short": short, "long": _("Open now") if status.is_open else _("Closed now")}
    local = status.changes_at.astimezone(status.zone)
    when = _when(local, status.checked_at.astimezone(status.zone).date())
    zone = _("%(place)s time") % {"place": place_name(status.time_zone)}
    if status.is_open:
        if when["days"] == "0":
            text = _("Open now, until %(time)s") % when
        else:
            text = _("Open now, until %(weekday)s %(time)s") % when
    elif when["days"] == "0":
        text = _("Closed now. Opens today at %(time)s") % when
    elif when["days"] == "1":
        text = _("Closed now. Opens tomorrow at %(time)s") % when
    elif int(when["days"]) < 7:
        text = _("Closed now. Opens on %(weekday)s at %(time)s") % when
    else:
        text = _("Closed now. Opens on %(date)s at %(time)s") % when
    return {"short": short, "long": f"{text} ({zone})"}

"""Every metric the service counts: name, meaning, dimensions, unit, who increments it (docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Histogram bins for waits and durations, in minutes; a value is never stored, only its bin.
MINUTE_BINS: tuple[str, ...] = ("<1", "1-2", "2-5", "5-10", "10-20", "20-40", "40+")
_BIN_UPPER_SECONDS = (60, 120, 300, 600, 1200, 2400)

SELFCHECK_BANDS = ("starting-out", "worth-working-on", "talk-soon", "talk-now")
REFUSAL_REASONS = ("closed", "queue_full", "pow_invalid", "rate_limited")
ENDED_BY = ("visitor", "counsellor", "timeout")
SERVICE_LEVEL = ("within", "beyond")
RATINGS = ("1", "2", "3", "4", "5")
HELPED = ("yes", "no", "unsure")
# "What will you do next?" after a chat: a few codes, counted, never linked to the chat or to each other.
NEXT_STEPS = ("selfhelp", "safety-plan", "professional", "someone-i-trust", "contact-again", "not-sure")
# "How are you doing now?": the browser compares a new self-check band with the earlier one it kept.
RETURN_CHANGES = ("better", "same", "worse")
HOURS_OF_WEEK = 168
# Mailbox (securemessages): days from a thread's first message to the team's first answer, in bands.
MAILBOX_REPLY_BANDS = ("0", "1", "2", "3-5", "6-10", "11+")


def mailbox_reply_band(days: int) -> str:
    """The band ("0" … "11+") of a first answer given `days` after the thread started."""
    if days < 0:
        raise ValueError("a reply cannot come before the thread")
    if days <= 2:
        return str(days)
    return "3-5" if days <= 5 else "6-10" if days <= 10 else "11+"


def minutes_bin(seconds: float) -> str:
    """The histogram bin ("<1" … "40+") a wait or duration of `seconds` falls in; lower bounds are inclusive."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    for upper, name in zip(_BIN_UPPER_SECONDS, MINUTE_BINS, strict=False):
        if seconds < upper:
            return name
    return MINUTE_BINS[-1]


def is_slug(dimension: str) -> bool:
    """A lowercase slug such as a module or campaign code: 1–64 of a-z, 0-9, '-' and '_'."""
    return 0 < len(dimension) <= 64 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-_" for c in dimension)


def is_language(dimension: str) -> bool:
    """A language code the site offers (en, nl)."""
    from django.conf import settings

    return dimension in {code for code, _name in settings.LANGUAGES}


def is_campaign_code(dimension: str) -> bool:
    """One of settings.CAMPAIGN_CODES."""
    from django.conf import settings

    return dimension in settings.CAMPAIGN_CODES


def is_module_slug(dimension: str) -> bool:
    """The slug of a self-help module that is loaded now (selfhelp.Module); nothing else becomes a row."""
    from selfhelp.models import Module

    return is_slug(dimension) and Module.objects.filter(slug=dimension).exists()


def module_slugs() -> tuple[str, ...]:
    from selfhelp.models import Module

    return tuple(Module.objects.values_list("slug", flat=True))


def language_codes() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(code for code, _name in settings.LANGUAGES)


def campaign_codes() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(settings.CAMPAIGN_CODES)


def is_wrapup_code(dimension: str) -> bool:
    """`category.code`: two slugs joined by one dot, e.g. `concern.online-images`."""
    parts = dimension.split(".")
    return len(parts) == 2 and all(is_slug(p) for p in parts) and len(dimension) <= 64


@dataclass(frozen=True)
class Metric:
    """One counter family: `name[dimension]` per day (or per hour of week and 4-week block)."""

    name: str
    meaning: str
    unit: str
    incremented_by: str
    dimensions: tuple[str, ...] = ()  # a fixed set; empty means "see validator"
    validator: Callable[[str], bool] | None = None
    validator_doc: str = ""
    beacon: bool = False
    hour_of_week: bool = False
    listing: Callable[[], tuple[str, ...]] | None = None  # the values a validator accepts, where they are few

    def known_values(self) -> tuple[str, ...]:
        """The rows a table of this metric always shows (0 where nothing was counted)."""
        if self.listing is not None:
            return self.listing()
        return self.dimensions

    def accepts(self, dimension: str) -> bool:
        """Whether `dimension` is a value this metric may be counted with."""
        if self.validator is not None:
            return self.validator(dimension)
        return dimension in self.dimensions

    @property
    def dimension_doc(self) -> str:
        if self.validator is not None:
            return self.validator_doc
        if self.dimensions == ("",):
            return "none (`\"\"`)"
        return ", ".join(f"`{d}`" for d in self.dimensions)


_NONE = ("",)
_CHAT = "chat/ (the queue and consumers, at the moment described)"
_MAILBOX = "securemessages/actions.py"

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("selfhelp.page_view", "A self-help module page was shown.", "page views",
               "selfhelp views (server side, when the page is rendered)",
               validator=is_module_slug, validator_doc="slug of a loaded module"),
        Metric("selfhelp.module_started", "A visitor started a module (first step opened).", "modules",
               "visitor page script through POST /count/", validator=is_module_slug,
               validator_doc="slug of a loaded module", beacon=True),
        Metric("selfhelp.module_completed", "A visitor reached the end of a module.", "modules",
               "visitor page script through POST /count/", validator=is_module_slug,
               validator_doc="slug of a loaded module", beacon=True),
        Metric("selfhelp.selfcheck_completed", "A self-check was completed; only the result band is counted, "
               "never the answers.", "self-checks",
               "selfhelp views (no-script form) and visitor page script through POST /count/",
               dimensions=SELFCHECK_BANDS, beacon=True),
        Metric("selfhelp.safety_plan_made", "A visitor made a safety plan (kept only in their browser).",
               "plans", "visitor page script through POST /count/", dimensions=_NONE, beacon=True),
        Metric("selfhelp.return_check", "A returning visitor took the self-check again and chose to count how "
               "the new result compares with the earlier one their browser kept (the earlier result is never sent).",
               "self-checks", "visitor page script through POST /count/", dimensions=RETURN_CHANGES, beacon=True),
        Metric("selfhelp.right_now_view", "The 'right now' (urgent help) page was shown.", "page views",
               "selfhelp views", dimensions=_NONE),
        Metric("site.referral", "A visitor arrived with a known campaign code (?src=…), which was then stripped.",
               "arrivals", "helpline.middleware.ReferralCodeMiddleware", validator=is_campaign_code,
               validator_doc="a code from settings.CAMPAIGN_CODES", listing=campaign_codes),
        Metric("chat.offered", "A visitor joined the chat queue (the service was open and accepted them).",
               "chats", _CHAT + ": joined the queue", validator=is_language, validator_doc="page language",
               listing=language_codes),
        Metric("chat.refused", "A visitor asked for a chat and was turned away before joining the queue.",
               "requests", _CHAT + ": refused", dimensions=REFUSAL_REASONS),
        Metric("chat.answered", "A counsellor accepted a queued chat.", "chats", _CHAT + ": accepted",
               validator=is_language, validator_doc="page language", listing=language_codes),
        Metric("chat.abandoned_queued", "A visitor left the queue before any counsellor accepted; the "
               "dimension is how long they had waited.", "chats", _CHAT + ": left while queued",
               dimensions=MINUTE_BINS),
        Metric("chat.ended_by", "An answered chat ended, and who ended it.", "chats", _CHAT + ": ended",
               dimensions=ENDED_BY),
        Metric("chat.wait_bin", "Wait of an answered chat: from joining the queue until a counsellor accepted.",
               "chats", _CHAT + ": accepted", dimensions=MINUTE_BINS),
        Metric("chat.duration_bin", "Duration of an answered chat: from acceptance until it ended.", "chats",
               _CHAT + ": ended", dimensions=MINUTE_BINS),
        Metric("chat.service_level", "Whether an answered chat was accepted within N minutes of joining the "
               "queue (settings.SERVICE_LEVEL_MINUTES, default 2).", "chats", _CHAT + ": accepted",
               dimensions=SERVICE_LEVEL),
        Metric("chat.transfers", "A chat was transferred to another counsellor.", "transfers",
               _CHAT + ": transferred", dimensions=_NONE),
        Metric("chat.resumes", "A visitor reconnected to a chat within the grace period.", "resumes",
               _CHAT + ": resumed", dimensions=_NONE),
        Metric("chat.wrapup", "A wrap-up code a counsellor chose at the end of a chat (one count per code "
               "chosen).", "codes", _CHAT + ": wrap-up saved", validator=is_wrapup_code,
               validator_doc="`category.code`"),
        Metric("chat.rating", "A visitor's rating of a chat, 1 (poor) to 5 (very good).", "ratings",
               _CHAT + ": feedback sent", dimensions=RATINGS),
        Metric("chat.helped", "A visitor's answer to 'did this chat help?'.", "answers",
               _CHAT + ": feedback sent", dimensions=HELPED),
        Metric("chat.next_step", "A visitor's answer to 'what will you do next?' after a chat (one count per "
               "answer ticked).", "answers", _CHAT + ": feedback sent", dimensions=NEXT_STEPS),
        Metric("chat.demand_how", "Chats offered, by hour of the week, summed over a 4-week block.", "chats",
               _CHAT + ": joined the queue (increment_hour_of_week)", dimensions=_NONE, hour_of_week=True),
        Metric("chat.capacity_how", "Counsellor-hours available, by hour of the week, summed over a 4-week "
               "block (one count per counsellor available in that hour).", "counsellor-hours",
               _CHAT + ": once per available counsellor per hour (increment_hour_of_week)", dimensions=_NONE,
               hour_of_week=True),
        # --- the mailbox (securemessages/actions.py) ---
        Metric("mailbox.threads_started", "A visitor sent the first message of a new mailbox thread.", "threads",
               _MAILBOX + ": thread started", validator=is_language, validator_doc="page language"),
        Metric("mailbox.received", "A visitor's mailbox message was received (the first one and every reply).",
               "messages", _MAILBOX + ": visitor message stored", validator=is_language,
               validator_doc="the thread's language"),
        Metric("mailbox.threads_answered", "A mailbox thread got its first answer from the team.", "threads",
               _MAILBOX + ": first team answer", validator=is_language, validator_doc="the thread's language"),
        Metric("mailbox.first_reply_days", "Days from a mailbox thread's first message to the team's first "
               "answer, in bands.", "threads", _MAILBOX + ": first team answer", dimensions=MAILBOX_REPLY_BANDS),
        Metric("mailbox.wrapup", "A wrap-up code a counsellor chose when closing a mailbox thread (the chat's "
               "codes).", "codes", _MAILBOX + ": thread closed", validator=is_wrapup_code,
               validator_doc="`category.code`"),
    ]
}

# Metrics a visitor page may report through /count/ (everything else is counted server-side).
BEACON_METRICS: dict[str, Callable[[str], bool]] = {name: m.accepts for name, m in METRICS.items() if m.beacon}


def metric(name: str) -> Metric:
    """The catalogue entry for `name`; KeyError for anything not in the catalogue."""
    return METRICS[name]


class NotInCatalogue(ValueError):
    """A counter the catalogue does not define; a programming error, never shown to a visitor."""


def check_countable(name: str, dimension: str, *, hour_of_week: bool = False) -> Metric:
    """The catalogue entry, if `name[dimension]` may be counted (by day, or by hour of week); else NotInCatalogue."""
    entry = METRICS.get(name)
    if entry is None:
        raise NotInCatalogue(f"{name!r} is not in the metrics catalogue")
    if entry.hour_of_week != hour_of_week:
        raise NotInCatalogue(f"{name!r} is counted {'by hour of week' if entry.hour_of_week else 'by day'} "
                             "in the catalogue")
    if not entry.accepts(dimension):
        raise NotInCatalogue(f"{dimension[:70]!r} is not a dimension of {name!r} in the catalogue")
    return entry


def service_level(wait_seconds: float) -> str:
    """"within" if a chat was accepted within settings.SERVICE_LEVEL_MINUTES (default 2) of queueing, else "beyond"."""
    from django.conf import settings

    if wait_seconds < 0:
        raise ValueError("a wait cannot be negative")
    return "within" if wait_seconds <= 60 * int(getattr(settings, "SERVICE_LEVEL_MINUTES", 2)) else "beyond"

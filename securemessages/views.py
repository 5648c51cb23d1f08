"""Mailbox pages: the visitor's page (write, come back with the codename), the plain-words page about what is
kept, and the counsellors' inbox. They only render; the work happens in the browser (static/securemessages/).

Strings the scripts show are translated here and handed over with ``json_script``, as the chat pages do.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from chat.views import canned_responses, org_key_reference, wrapup_choices
from helpline.accounts.access import COUNSEL, require_staff
from securemessages import conf
from securemessages.crypto import CODENAME_WORDS


def visitor_strings() -> dict[str, str]:
    return {
        "no_webcrypto": _("This browser cannot encrypt messages, so it cannot send one. Please use an up-to-date "
                          "browser such as Firefox, Chrome, Safari, Edge or Tor Browser."),
        "encrypting": _("Encrypting your message in this browser…"),
        "pow": _("Your device is doing a short task that keeps automated programs from flooding our inbox. This "
                 "can take a few seconds; please keep this page open…"),
        "sending": _("Sending…"),
        "opening": _("Opening your conversation…"),
        "no_team": _("Messages cannot be received right now, because no counsellor can read them yet. Please try "
                     "again later, or use the chat."),
        "failed": _("Something went wrong, and nothing was sent. Please try again."),
        "network": _("The connection failed, and nothing was sent. Please check your connection and try again."),
        "too_long": _("This message is too long. Please make it shorter."),
        "codename_words": _("A codename has {count} words. Please check that you typed all of them."),
        "codename_unknown": _("These words are not in our lists: {words}. Please check the spelling."),
        "not_found": _("No conversation was found for this codename. Check the words; a conversation is deleted "
                       "{days} days after its last message."),
        "refused_server": _("This conversation could not be checked, so it is not shown. Please try again later."),
        "you": _("You"),
        "counsellor": _("Counsellor {name}"),
        "unverified": _("A message could not be verified, so it is not shown."),
        "unreadable": _("A message could not be decrypted, so it is not shown."),
        "state_new": _("Your message is waiting for a counsellor. We aim to answer within {days} working days."),
        "state_waiting": _("Your message is waiting for a counsellor. We aim to answer within {days} working days."),
        "state_answered": _("A counsellor has answered. You can write back."),
        "state_closed": _("The counsellor has closed this conversation. You can still write back."),
        "expires": _("If nobody writes again, this conversation is deleted on {date}."),
        "copied": _("Copied. Paste it somewhere only you can see."),
        "copy_failed": _("Copying did not work here. Please write the words down."),
        "sent": _("Sent."),
        "deleted": _("The conversation was deleted."),
        "thread_full": _("This conversation is full. Please delete it and start a new one."),
    }


def inbox_strings() -> dict[str, str]:
    return {
        "no_webcrypto": _("This browser cannot use WebCrypto, so the inbox cannot work here."),
        "no_device": _("This browser has no certified device key yet. Open the chat console once to make one, then "
                       "come back."),
        "device_waiting": _("This device's key is waiting for a certificate. Come back when it is certified."),
        "device_ready": _("This device can read and answer secure messages as {name}."),
        "device_failed": _("This device's encryption key could not be registered. Please reload the page."),
        "empty": _("No secure messages."),
        "state_new": _("New"),
        "state_waiting": _("Waiting for an answer"),
        "state_answered": _("Answered"),
        "state_closed": _("Closed"),
        "age": _("{days} days old"),
        "age_one": _("1 day old"),
        "age_today": _("started today"),
        "messages": _("{count} messages"),
        "messages_one": _("1 message"),
        "open": _("Open"),
        "visitor": _("Visitor"),
        "counsellor": _("Counsellor {name}"),
        "no_key": _("This message was written before this device could read secure messages. A colleague's inbox "
                    "shares it with this device when they open the inbox."),
        "unverified": _("A message could not be verified, so it is not shown."),
        "unreadable": _("A message could not be decrypted, so it is not shown."),
        "sent": _("Your answer was sent."),
        "closed": _("The conversation was closed."),
        "failed": _("That did not work: {message}"),
        "network": _("The connection failed. Please try again."),
        "shared": _("Shared {count} older messages with colleagues' new devices."),
        "today": _("today"),
        "days_ago": _("{days} days ago"),
    }


def _org_key() -> dict[str, str] | None:
    try:
        return org_key_reference()
    except Http404:
        return None


def visitor(request: HttpRequest) -> HttpResponse:
    """/<lang>/help/message/: write a message, or come back with the codename."""
    key = _org_key()
    return render(request, "securemessages/visitor.html", {
        "strings": visitor_strings(), "org_key": key, "pinned_modules": [key] if key else [],
        "lang": get_language() or "en",
        "reply_days": conf.reply_days(), "retention_days": conf.retention_days(), "codename_words": CODENAME_WORDS,
    })


def about(request: HttpRequest) -> HttpResponse:
    """/<lang>/help/message/about/: what is kept, for how long, and what losing the codename means."""
    return render(request, "securemessages/about.html", {
        "reply_days": conf.reply_days(), "retention_days": conf.retention_days(), "codename_words": CODENAME_WORDS,
    })


@require_staff(COUNSEL)
def inbox(request: HttpRequest) -> HttpResponse:
    """/<lang>/staff/messages/: the counsellors' inbox."""
    canned: dict[str, Any] = {lang: canned_responses(lang) for lang in ("en", "nl")}
    key = _org_key()
    return render(request, "securemessages/inbox.html", {
        "strings": inbox_strings(), "org_key": key, "pinned_modules": [key] if key else [], "canned": canned,
        "wrapup": wrapup_choices(), "lang": get_language() or "en",
    })

"""Chat pages: the visitor's pre-chat and chat page, the pinned organisation key, the counsellor console,
the supervisor view, and the console's endpoint for a wrap-up sent after the chat ended.

The pages only render; everything they do runs in the browser (chat/static/chat/*.js) over the websockets.
Strings the scripts show are translated here and handed over with ``json_script``, so the scripts stay
static files (CSP ``script-src 'self'``) and one catalogue holds every string.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from chat.org_key import org_public_key
from helpline.accounts.access import COUNSEL, SUPERVISE, require_staff
from helpline.assets import sri_sha384
from helpline.disk_privacy import forget_on_disk

CHAT_INTRO_TOML = Path(settings.BASE_DIR) / "selfhelp" / "content" / "chat_intro.toml"
INTRO_SECTIONS = ("what_it_is", "who_answers", "encryption", "what_we_keep", "confidentiality_limits")
# A year: the URL carries the key id, so a new key is a new URL and nothing stale is ever served.
ORG_KEY_MAX_AGE = 365 * 24 * 3600


# --- Strings the scripts show ------------------------------------------------------------
# Placeholders in braces ({position}, {name}) are filled in by the script.


def visitor_strings() -> dict[str, str]:
    return {
        "no_webcrypto": _("This browser cannot encrypt the chat, so the chat cannot start. Please use an "
                          "up-to-date browser such as Firefox, Chrome, Safari, Edge or Tor Browser."),
        "starting": _("Making a secure connection…"),
        "pow": _("Checking that you are a person and not an automated program. This can take a few seconds…"),
        "queued": _("You are number {position} in the queue. A counsellor will be with you as soon as possible."),
        "queued_next": _("You are next in the queue. A counsellor will be with you as soon as possible."),
        "keeping_place": _("Your device is doing a short check to keep your place in the queue."),
        "connected": _("Your counsellor: {name} (verified)"),
        "restarted": _("The secure session restarted. Messages from before are not shown again: we never kept "
                       "them."),
        "reconnected": _("The connection was made again, with a new secure session."),
        "reconnecting": _("The connection was lost. Reconnecting…"),
        "refused": _("We could not verify that you are talking to one of our counsellors, so the chat was "
                     "stopped and nothing more will be sent. Please try again later."),
        "closed": _("The chat is closed right now. Please come back during opening hours."),
        "queue_full": _("All counsellors are busy and the queue is full. Please try again in a little while."),
        "rate_limited": _("Too many attempts in a short time. Please wait a minute and try again."),
        "resume_invalid": _("This chat could not be continued. You can start a new chat."),
        "error": _("Something went wrong. Please try again."),
        "you": _("You"),
        "typing": _("{name} is typing…"),
        "missing": _("A message may have gone missing."),
        "unreadable": _("A message could not be decrypted, so it is not shown."),
        "sending": _("Sending…"),
        "delivered": _("Delivered"),
        "held": _("Not delivered yet. It will be sent as soon as a counsellor is connected."),
        "not_delivered": _("Not delivered: the chat ended first."),
        "unconfirmed": _("Sent, but the chat ended before it was confirmed."),
        "state_connected": _("Connected with {name}. Your messages reach them."),
        "state_counsellor_away": _("Your counsellor's connection dropped. Please wait: they can come back to this "
                                   "chat. What you write now is sent when they are back."),
        "state_handover": _("You are being handed to a colleague. Please stay on this page."),
        "state_requeued": _("Your counsellor could not come back. You are first in line for the next counsellor."),
        "state_queued": _("You are waiting for a counsellor."),
        "state_reconnecting": _("Your connection dropped. Reconnecting… What you write now is sent once you are "
                                "back."),
        "someone_else": _("You are now talking with {name}, a colleague. They can read what you write from now on."),
        "title_joined": _("A counsellor is here"),
        "title_message": _("New message"),
        "ended_visitor": _("You ended the chat."),
        "ended_counsellor": _("The counsellor ended the chat."),
        "ended_timeout": _("The chat ended because the connection was gone for too long."),
        "feedback_thanks": _("Thank you for your feedback."),
        "feedback_failed": _("Your feedback could not be sent. That is all right: you do not have to."),
        "transcript_file": _("chat-transcript.txt"),
        "transcript_header": _("Chat transcript. This file was made in your browser; we keep no copy of the chat."),
        "too_long": _("This message is too long. Please split it into shorter messages."),
        "displaced": _("This chat continues in another tab or window."),
    }


def console_strings() -> dict[str, str]:
    return {
        "no_webcrypto": _("This browser cannot use WebCrypto, so the console cannot work here."),
        "enrol_needed": _("This browser has no device key yet. Make one to take chats here."),
        "enrol_waiting": _("Waiting for certification. An operator must certify this device before you can "
                           "take chats."),
        "enrol_revoked": _("This device key was revoked. Make a new one."),
        "enrol_failed": _("The device key could not be registered. Try again."),
        "enrolled": _("This device is certified as {name}."),
        "connecting": _("Connecting…"),
        "connected": _("Connected."),
        "reconnecting": _("The connection was lost. Reconnecting…"),
        "sending": _("Sending…"),
        "delivered": _("Delivered"),
        "held": _("Not delivered yet. It will be sent when the visitor is back."),
        "not_delivered": _("Not delivered: the chat ended first."),
        "unconfirmed": _("Sent, but the chat ended before it was confirmed."),
        "visitor_away": _("The visitor's connection dropped. The chat waits {seconds} seconds for them; what you "
                          "write now is sent when they are back."),
        "visitor_back": _("The visitor is back."),
        "key_changed": _("Warning: a new key for this visitor did not match the one this chat started with, so it "
                         "was refused. This may be an attack on the service. Do not write anything sensitive, "
                         "and tell a supervisor."),
        "queue_empty": _("Nobody is waiting."),
        "waiting_minutes": _("waiting {minutes} min"),
        "new_in_queue": _("A visitor is waiting."),
        "offered": _("A chat is offered to you."),
        "offer_new": _("New chat"),
        "offer_handover": _("Handed to you by {name}"),
        "offer_left": _("{seconds} s left to accept"),
        "offer_expired": _("Time is up: the chat goes back to the queue"),
        "language_en": _("English"),
        "language_nl": _("Dutch"),
        "chat_language": _("Language of this chat: {language}."),
        "accept": _("Accept"),
        "missed_offer": _("An offered chat was not accepted in time, so you are now marked as away. Tick "
                          "“Available for new chats” to take chats again."),
        "chat_tab": _("Chat {number}"),
        "tab_unread": _("{count} unread"),
        "restarted": _("The visitor reconnected: the secure session restarted. If they reloaded the page, they "
                       "no longer see the earlier messages."),
        "restarted_console": _("Your console reconnected: the secure session restarted."),
        "restored": _("The console was reloaded. This chat was kept in this browser, encrypted; waiting for the "
                      "visitor's connection to come back to you…"),
        "not_back": _("This chat did not come back to this console: it ended, or went to a colleague, while the "
                      "console was closed."),
        "colleagues_loading": _("Looking up colleagues…"),
        "colleagues_failed": _("The list of colleagues could not be loaded. Try again."),
        "colleague_available": _("{name}: online, taking chats"),
        "colleague_busy": _("{name}: online, not taking new chats"),
        "colleague_offline": _("{name}: offline"),
        "colleague_no_key": _("{name}: online, but their console cannot receive your note and the conversation "
                              "yet"),
        "handover_choose": _("Choose a colleague or the queue."),
        "handover_no_org_key": _("This console cannot check colleagues' keys (no organisation key), so it can "
                                 "only hand chats back to the queue."),
        "handing_to": _("Being handed to {name}… The visitor waits at the front of the queue and is told so. If "
                        "{name} does not take the chat in time, it comes back to you."),
        "handover_taken": _("{name} took the chat. It is closed here; no wrap-up is needed from you."),
        "handover_returned": _("{name} did not take the chat in time: it is back with you."),
        "handover_refused": _("The hand-over did not go through: {message}"),
        "handover_from": _("{name} handed this chat to you."),
        "note_from": _("Note from {name}"),
        "handover_unreadable": _("A note and the conversation so far came with this chat, but they could not be "
                                 "opened on this device, so nothing of them is shown."),
        "handover_history_end": _("End of the conversation before the hand-over."),
        "history_trimmed": _("Earlier lines were left out to keep the hand-over within its size limit."),
        "colleague": _("Colleague"),
        "key_changed_offer": _("Warning: a chat handed to you came with a visitor key that does not match the one "
                               "in the hand-over, so it was refused. This may be an attack on the service; tell a "
                               "supervisor."),
        "ek_failed": _("This device could not register its encryption key, so hand-over notes cannot reach it. "
                       "Chats work as usual."),
        "notify_title": _("Chat console"),
        "notify_message": _("A new message"),
        "notify_left": _("A chat has ended"),
        "notify_offer": _("A chat is waiting for you"),
        "notify_denied": _("This browser does not allow notifications for this page, so none will be shown."),
        "visitor_left": _("The visitor left the chat."),
        "visitor_hurry": _("The visitor left in a hurry (quick exit). They may not be safe to talk right now; the "
                           "chat has ended."),
        "ended": _("The chat ended."),
        "ended_timeout": _("The chat ended: the visitor's connection was gone too long."),
        "typing": _("The visitor is typing…"),
        "visitor": _("Visitor"),
        "you": _("You"),
        "missing": _("A message may have gone missing."),
        "unreadable": _("A message could not be decrypted, so it is not shown."),
        "transferred": _("The chat went back to the queue for the next free counsellor."),
        "error": _("Error: {message}"),
        "close": _("Close this chat"),
        "signed_out": _("Your session has ended. Please sign in again."),
        "wrapup_after_end": _("You can still fill in the wrap-up for this chat (within an hour)."),
        "wrapup_save": _("Save the wrap-up"),
        "wrapup_saved": _("The wrap-up was saved."),
        "wrapup_failed": _("The wrap-up could not be saved: {message}"),
        "wrapup_network": _("The wrap-up could not be sent. Check the connection and try again."),
    }


def supervise_strings() -> dict[str, str]:
    return {
        "unavailable": _("Live figures are not available right now."),
        "updated": _("Updated at {time}"),
        "minutes": _("{minutes} min"),
        "chats": _("{chats} chats"),
        "none": _("none"),
        "open": _("Open"),
        "closed": _("Closed"),
    }


def wrapup_choices() -> dict[str, list[tuple[str, str]]]:
    """Wrap-up category codes (the `end` frame's `wrapup`, chat.schema.WRAPUP_CODES) with labels for people."""
    return {
        "contact": [
            ("self", _("About themselves")),
            ("someone_else", _("About someone else")),
            ("professional", _("A professional")),
            ("silent", _("Silent or no conversation")),
            ("test", _("Test")),
            ("abusive", _("Abusive")),
        ],
        "concern": [
            ("own_urges", _("Own sexual thoughts or urges about children")),
            ("online_images", _("Sexual images of children online")),
            ("contact_offending", _("Sexual contact with a child")),
            ("past_offence", _("An offence in the past")),
            ("someone_elses_behaviour", _("Someone else's behaviour")),
            ("worried_about_child", _("Worried about a child")),
            ("other", _("Something else")),
        ],
        "action": [
            ("self_help_suggested", _("Self-help suggested")),
            ("referral_treatment", _("Referral to treatment")),
            ("crisis_info", _("Crisis information given")),
        ],
    }


# --- The pinned organisation key --------------------------------------------------------


def org_key_module(org_public_key: str) -> bytes:
    """The ES module that pins the organisation key; the same key always gives the same bytes (and hash)."""
    from chat.protocol import crypto

    # Only a valid P-256 point (base64url) is ever written into a script.
    crypto.load_public_key(crypto.b64d(org_public_key))
    return (
        "// The organisation's public key (protocol.md section 3), pinned for the visitor's page.\n"
        "// Served with a Subresource Integrity hash from the page that loads it; see docs/chat.md.\n"
        f'export const ORG_PUBLIC_KEY = "{org_public_key}";\n'
    ).encode("ascii")


def org_key_id(org_public_key: str) -> str:
    from chat.protocol import crypto

    return crypto.org_key_id(crypto.b64d(org_public_key))


def _org_public_key() -> str:
    """The organisation key (chat.org_key); none at all is a 404."""
    key = org_public_key()
    if not key:
        raise Http404
    return key


@require_GET
def org_key(request: HttpRequest) -> HttpResponse:
    """/<lang>/help/chat/org-key.js: the pinned key as a tiny ES module, cacheable for a year."""
    response = HttpResponse(org_key_module(_org_public_key()), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={ORG_KEY_MAX_AGE}, immutable"
    return response


def org_key_reference() -> dict[str, str]:
    """URL (versioned by key id) and SRI hash of the org-key module, for the page that loads it."""
    key = _org_public_key()
    return {
        "url": f"{reverse('chat:org_key')}?v={org_key_id(key)}",
        "integrity": sri_sha384(org_key_module(key)),
    }


def org_key_modules() -> list[tuple[str, bytes]]:
    """(URL, body) of the org-key module in every language, for `manage.py asset_hashes`; none without a key."""
    from django.utils import translation

    try:
        key = _org_public_key()
    except Http404:
        return []
    modules = []
    for lang, _name in settings.LANGUAGES:
        with translation.override(lang):
            modules.append((f"{reverse('chat:org_key')}?v={org_key_id(key)}", org_key_module(key)))
    return modules


# --- The visitor's pre-chat text ---------------------------------------------------------


@cache
def _intro_from_toml(lang: str) -> dict[str, SafeString]:
    from selfhelp.rendering import render_markdown

    if not CHAT_INTRO_TOML.exists():
        return {}
    content = tomllib.loads(CHAT_INTRO_TOML.read_text(encoding="utf-8"))
    texts = content.get(lang) or content.get("en") or {}
    rendered = {"title": escape(str(texts.get("title", "")))}
    for name in INTRO_SECTIONS:
        rendered[name] = render_markdown(str(texts.get(name, "")))
    return rendered


def chat_intro(lang: str) -> dict[str, SafeString]:
    """The pre-chat sections as the operator keeps them (selfhelp PageText, editable in the admin).

    Before `load_content` has run (a bare test database) the shipped TOML is used instead.
    """
    from selfhelp.texts import page_text, rendered_page_texts

    edited = rendered_page_texts("chat-intro")
    if edited:
        edited["title"] = SafeString(escape(page_text("chat-intro", "title")))
        return edited
    return dict(_intro_from_toml(lang))


def opening_hours() -> list[tuple[str, str]]:
    """(weekday name, "09:00–17:00, 19:00–22:00") per open day, in the service's time zone; empty = always open."""
    from django.utils.dates import WEEKDAYS

    from chat.models import OpeningHours

    days: dict[int, list[str]] = {}
    for interval in OpeningHours.objects.order_by("weekday", "opens"):
        days.setdefault(interval.weekday, []).append(f"{interval.opens:%H:%M}–{interval.closes:%H:%M}")
    return [(str(WEEKDAYS[day]), ", ".join(times)) for day, times in sorted(days.items())]


def visitor(request: HttpRequest) -> HttpResponse:
    from chat.hours import status_for
    from selfhelp.signposting import lines_for_visitor

    lang = get_language() or "en"
    context: dict[str, Any] = {
        "intro": chat_intro(lang),
        "opening_hours": opening_hours(),
        "chat_strings": visitor_strings(),
        "lang": lang,
        # Rendered with the page, so a closed chat shows no Start and its alternatives with or without script.
        "chat_open": status_for(request).is_open,
        "lines": lines_for_visitor(),
    }
    try:
        context["org_key"] = org_key_reference()
    except Http404:
        context["org_key"] = None
    # The page imports the org-key module (visitor.js): the import map pins it like every static module.
    context["pinned_modules"] = [context["org_key"]] if context["org_key"] else []
    return render(request, "chat/visitor.html", context)


# --- Staff pages -----------------------------------------------------------------------


def canned_responses(lang: str) -> list[dict[str, str]]:
    """Canned responses written in `lang`: a text without a translation into that language is not offered in its
    chats (a Dutch chat never gets English text), for the console and the inbox, which pick by the chat's language."""
    from chat.models import CannedResponse

    responses = []
    for canned in CannedResponse.objects.all():
        text = canned.text_nl if lang == "nl" else canned.text_en
        if text.strip():
            responses.append({"title": canned.title, "text": text})
    return responses


def colleagues(user: Any) -> list[dict[str, object]]:
    """Other active staff who may counsel: who a chat can be handed to (`transfer.to` is their id)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    counsel = Q(groups__permissions__codename=COUNSEL, groups__permissions__content_type__app_label="accounts")
    people = get_user_model().objects.filter(is_active=True).filter(counsel | Q(is_superuser=True))
    return [{"id": person.pk, "name": person.get_full_name() or person.get_username()}
            for person in people.exclude(pk=user.pk).distinct().order_by("username")]


MAX_HANDOVER_DEVICES = 8  # a hand-over bundle is sealed to at most 8 devices (docs/protocol.md §10)


def handover_colleagues(user: Any, today: dt.date) -> list[dict[str, object]]:
    """The console's hand-over dialog: each colleague who may counsel, whether they have the console open
    (`online`: a counsellor socket) and take new chats (`available`), and the encryption keys of their certified,
    unexpired devices (`devices`: [{cert, ek, ek_sig}], securemessages' DeviceKey). The console checks each
    against the organisation key it pins before it seals the hand-over bundle to them: nothing here is trusted."""
    from chat.models import CounsellorDevice, CounsellorPresence
    from securemessages.models import DeviceKey

    people = colleagues(user)
    ids = [int(str(person["id"])) for person in people]
    online: dict[int, bool] = {}
    for user_id, available in CounsellorPresence.objects.filter(user_id__in=ids).values_list("user_id", "available"):
        online[user_id] = online.get(user_id, False) or available
    devices: dict[int, list[dict[str, Any]]] = {}
    keys = DeviceKey.objects.select_related("device").filter(
        device__user_id__in=ids, device__status=CounsellorDevice.CERTIFIED, device__not_after__gte=today,
    ).order_by("device_id")
    for key in keys:
        if isinstance(key.device.certificate, dict):
            devices.setdefault(key.device.user_id, []).append(
                {"cert": key.device.certificate, "ek": key.ek, "ek_sig": key.ek_sig})
    return [{**person, "online": person["id"] in online, "available": online.get(int(str(person["id"])), False),
             "devices": devices.get(int(str(person["id"])), [])[:MAX_HANDOVER_DEVICES]} for person in people]


def answered_languages(user: Any) -> list[str]:
    """The names of the languages this counsellor is offered chats in (CounsellorProfile), for the console."""
    from chat.models import CounsellorProfile

    names = dict(settings.LANGUAGES)
    codes = CounsellorProfile.languages_by_user({int(user.pk)})[int(user.pk)]
    return [str(names.get(code, code)) for code in codes]


def console_store_tag(request: HttpRequest) -> str:
    """A tag of this staff session for the console's transcript store (chat/static/chat/transcript-store.js): a
    store made under another session (after a sign-out, or by someone else in this browser) is wiped unread. An
    HMAC, so the page never carries anything that could stand in for the session key."""
    from django.utils.crypto import salted_hmac

    return salted_hmac("chat.console-store", request.session.session_key or "", algorithm="sha256").hexdigest()[:32]


def console_restore_wait() -> int:
    """Seconds a chat restored after a reload may stay silent: by then the server has given it back (a rekey), ended
    it (the visitor did not come back) or handed it on (the console stayed away longer than its grace period)."""
    return max(int(settings.RESUME_GRACE_SECONDS), 2 * int(settings.COUNSELLOR_GRACE_SECONDS)) + 30


@require_staff(COUNSEL)
def console(request: HttpRequest) -> HttpResponse:
    lang = get_language() or "en"
    try:
        org_key_module_ref: dict[str, str] | None = org_key_reference()
    except Http404:
        org_key_module_ref = None
    return render(request, "chat/console.html", {
        "chat_strings": console_strings(),
        "languages": answered_languages(request.user),
        # Both languages: the console picks by each chat's language.
        "canned": {code: canned_responses(code) for code, _name in settings.LANGUAGES},
        "wrapup": wrapup_choices(),
        "lang": lang,
        "store_tag": console_store_tag(request),
        "restore_wait": console_restore_wait(),
        # The console checks colleagues' and hand-over senders' certificates against the pinned org key.
        "org_key": org_key_module_ref,
        "pinned_modules": [org_key_module_ref] if org_key_module_ref else [],
    })


LATE_WRAPUP_FIELDS = {"token", "wrapup"}
LATE_WRAPUP_MAX_BYTES = 2048  # every code of every category and a token fit in well under this


def _late_wrapup_refused(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@never_cache
@require_POST
@require_staff(COUNSEL)
def late_wrapup(request: HttpRequest) -> HttpResponse:
    """POST {"token", "wrapup"}: the wrap-up of a chat that ended without one (the `ended` frame's `wrapup_token`).

    `wrapup` follows exactly the rule of the `end` frame's `wrapup`. The codes are checked before the token is
    used, so a counsellor can correct a refused wrap-up; a token counts once. 204 when counted; 400 for a bad
    body or codes, 403 for a token we did not make, 410 for an expired one, 409 for one already used.
    """
    from chat import actions
    from chat.schema import COUNSELLOR_TO_SERVER, SCHEMAS, FieldError, parse_json_object
    from chat.tokens import token_expiry

    body = parse_json_object(request.body, LATE_WRAPUP_MAX_BYTES)
    if request.content_type != "application/json" or not isinstance(body, dict) or set(body) != LATE_WRAPUP_FIELDS \
            or not isinstance(body["token"], str):
        return _late_wrapup_refused(400, _("Send a JSON object with token and wrapup."))
    try:
        SCHEMAS[COUNSELLOR_TO_SERVER]["end"].optional["wrapup"](body["wrapup"])
    except FieldError as error:
        # The form only offers valid codes, so this is a broken or stale client: the detail is for its log.
        return JsonResponse({"error": _("The wrap-up codes are not valid."), "detail": f"wrapup {error}"},
                            status=400)
    if not body["wrapup"]:
        return _late_wrapup_refused(400, _("The wrap-up is empty: choose at least one code."))
    token = body["token"]
    expiry = token_expiry(actions.WRAPUP_PURPOSE, token)
    if expiry is None:
        return _late_wrapup_refused(403, _("This wrap-up link is not valid."))
    if not actions.record_late_wrapup(token, body["wrapup"]):
        if expiry <= actions.now().timestamp():
            return _late_wrapup_refused(410, _("This wrap-up link has expired (after an hour)."))
        return _late_wrapup_refused(409, _("The wrap-up for this chat was already saved."))
    forget_on_disk()  # no earlier version of the counters keeps this chat's codes apart from the others
    return HttpResponse(status=204)


def supervision_figures() -> dict[str, Any]:
    """Numbers only: the queue's length and waits, and how many chats each counsellor holds (no names, no chats).

    Read from the transient chat state at this moment; nothing is stored for it.
    """
    from django.db.models import Count

    from chat import actions
    from chat.models import Chat, CounsellorPresence, ServiceSettings

    waits = sorted((int(str(entry["waiting"])) for entry in actions.queue_listing(actions.now())), reverse=True)
    online = CounsellorPresence.objects.values("user").distinct().count()
    available = CounsellorPresence.objects.filter(available=True).values("user").distinct().count()
    held = Chat.objects.exclude(state=Chat.QUEUED).exclude(counsellor=None).values("counsellor").annotate(
        chats=Count("pk"))
    load = sorted((int(row["chats"]) for row in held), reverse=True)
    return {
        "queue_length": len(waits),
        "longest_wait": waits[0] if waits else 0,
        "waits": waits,
        "counsellors_online": online,
        "counsellors_available": available,
        "active_chats": sum(load),
        "load": load,
        "cap": ServiceSettings.current().per_counsellor_cap,
        "open": actions.service_is_open(actions.now()),
    }


@require_GET
@require_staff(SUPERVISE)
def supervise(request: HttpRequest) -> HttpResponse:
    """The supervision page; with ``?format=json`` the figures alone, which the page polls."""
    figures = supervision_figures()
    if request.GET.get("format") == "json":
        return JsonResponse(figures)
    return render(request, "chat/supervise.html", {"chat_strings": supervise_strings(), "figures": figures})

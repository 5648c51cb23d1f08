"""The gates of the mailbox: which thread an access secret opens, and which device a counsellor may use.

One condition per line. A secret that opens nothing, a thread that expired and one that never existed are
the same answer: None (the view turns it into one generic refusal).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from chat.models import CounsellorDevice
from securemessages import conf
from securemessages.models import Thread


def oldest_kept_day(today: dt.date) -> dt.date:
    """A thread whose last message is older than this is gone, whether or not the sweep has run yet."""
    return today - dt.timedelta(days=conf.retention_days() - 1)


def thread_for_access(access: bytes, today: dt.date) -> Thread | None:
    """The thread this access secret opens, or None (wrong codename, deleted, or past retention)."""
    access_hash = hashlib.sha256(access).hexdigest()
    return Thread.objects.filter(access_hash=access_hash, last_message_on__gte=oldest_kept_day(today)).first()


def open_thread(thread_id: str, today: dt.date) -> Thread | None:
    """A thread for the counsellor inbox (the staff gate has already let the person through)."""
    return Thread.objects.filter(pk=thread_id, last_message_on__gte=oldest_kept_day(today)).first()


def own_certified_device(user: Any, device_id: object, today: dt.date) -> CounsellorDevice | None:
    """The signed-in counsellor's own device, certified and unexpired; None for anyone else's or a bad id."""
    if not isinstance(device_id, str):
        return None
    device = CounsellorDevice.objects.filter(pk=device_id, user_id=user.pk).first()
    if device is None:
        return None
    if device.status != CounsellorDevice.CERTIFIED:
        return None
    if device.not_after is None or device.not_after < today:
        return None
    if not isinstance(device.certificate, dict):
        return None
    return device

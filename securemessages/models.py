"""What the server keeps of a mailbox thread: ciphertext, public keys, a hash of the access secret, days.

Never the codename, the access secret itself, a private key or a time finer than the day (docs/mailbox.md §7).
A thread and everything in it is deleted when the visitor deletes it or MAILBOX_RETENTION_DAYS after its
last message, through securemessages.erasure so that nothing stays readable in the database files.
"""

from __future__ import annotations

from django.db import models

from chat.models import CounsellorDevice


class Thread(models.Model):
    """One conversation behind one codename."""

    id = models.CharField(primary_key=True, max_length=22, editable=False,
                          help_text="b64 of 16 bytes the visitor's browser derived from the codename")
    access_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the access secret, hex")
    lang = models.CharField(max_length=2)
    mailbox_key = models.CharField(max_length=87, help_text="the mailbox's ECDH public key (b64 point)")
    signing_key = models.CharField(max_length=87, help_text="the visitor's ECDSA public key (b64 point)")
    started_on = models.DateField()
    last_message_on = models.DateField(db_index=True)
    first_reply_on = models.DateField(null=True, blank=True)
    last_from_team = models.BooleanField(default=False)
    closed = models.BooleanField(default=False)
    message_count = models.PositiveIntegerField(default=0)
    stored_chars = models.PositiveIntegerField(default=0, help_text="ciphertext characters, for the size cap")

    def __str__(self) -> str:
        return "mailbox thread"


class Message(models.Model):
    """One sealed message; `cert` is the certificate a counsellor device signed it under (None for the visitor)."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=22)
    sender = models.CharField(max_length=22, help_text="visitor, or the counsellor device's id")
    ct = models.TextField()
    sig = models.CharField(max_length=86)
    cert = models.JSONField(null=True, blank=True)
    written_on = models.DateField()

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["thread", "message_id"], name="mailbox_message_once")]

    def __str__(self) -> str:
        return "mailbox message"


class Wrap(models.Model):
    """A message's content key, wrapped to one recipient: the mailbox, or one counsellor device."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="wraps")
    recipient = models.CharField(max_length=22)
    epk = models.CharField(max_length=87)
    wk = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "recipient"], name="mailbox_wrap_once")]

    def __str__(self) -> str:
        return "mailbox key wrap"


class DeviceKey(models.Model):
    """A counsellor device's ECDH encryption key, vouched for by the device's certified ECDSA key (`ek_sig`)."""

    device = models.OneToOneField(CounsellorDevice, primary_key=True, on_delete=models.CASCADE,
                                  related_name="mailbox_key")
    ek = models.CharField(max_length=87, unique=True)
    ek_sig = models.CharField(max_length=86)

    def __str__(self) -> str:
        return "mailbox encryption key"

"""Log filtering that keeps client addresses out of every log line, ours, Daphne's and Twisted's."""

from __future__ import annotations

import logging
import re

# Daphne and Twisted put the peer into messages and reprs: "client=['127.0.0.1', 48176]",
# "127.0.0.1:48176", "IPv4Address(type='TCP', host='127.0.0.1', port=48176)".
_PATTERNS = [
    re.compile(r"client=\[[^\]]*\]"),
    re.compile(r"(?:IPv4|IPv6)Address\([^)]*\)"),
    re.compile(r"'client':\s*(?:\[[^\]]*\]|\([^)]*\)|'[^']*')"),
    re.compile(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?::\d{1,5})?\b"),
    # IPv6 needs a "::" or eight groups, so clock times like 10:17:23 are left alone.
    re.compile(r"\[?\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b\]?(?::\d{1,5})?"),
    re.compile(r"\[?(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{0,4}\]?(?::\d{1,5})?"),
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """Replace anything that looks like a client address or a peer description."""
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactClientAddresses(logging.Filter):
    """Rewrites each record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record, nor leak its args
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        # A record from django.request carries the request; no handler of ours prints it, and
        # dropping it here keeps a later handler from doing so.
        if hasattr(record, "request"):
            record.request = None
        return True

"""Staff sessions, stored under a SHA-256 digest of their key (SESSION_ENGINE).

Django's database backend, with one change: the table (accounts.StaffSession) never holds a key a
browser could present. A database reader sees digests, which open nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from helpline.accounts.models import StaffSession

        return StaffSession

"""Settings for pytest: fast hashers, a throwaway database, demo-style keys made per run."""

from __future__ import annotations

from helpline.settings.dev import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_FAILURE_LIMIT = 3

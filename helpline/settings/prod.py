"""Production: everything from the environment; an unsafe configuration is refused (settings/checks.py)."""

from __future__ import annotations

from helpline.settings.base import *  # noqa: F403
from helpline.settings.env import env_int, env_list

# helpline.settings.checks refuses to start with any of these unsafe or missing.
PRODUCTION = True
# No loopback default here: production names its host names.
ALLOWED_HOSTS = env_list("HELPLINE_ALLOWED_HOSTS")
# deploy/ runs two processes (systemd helpline@1 and @2, compose app1 and app2); a single one says so.
SERVER_PROCESSES = env_int("HELPLINE_PROCESSES", 2, minimum=1)

WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

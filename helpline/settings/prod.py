"""Production: everything from the environment, and refuse to start on an unsafe configuration."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from helpline.settings.base import *  # noqa: F403
from helpline.settings.checks import production_problems

WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

_problems = production_problems(
    debug=DEBUG,  # noqa: F405
    secret_key=SECRET_KEY,  # noqa: F405
    allowed_hosts=ALLOWED_HOSTS,  # noqa: F405
    org_public_key=ORG_PUBLIC_KEY,  # noqa: F405
    allowed_hosts_from_env=bool(__import__("os").environ.get("HELPLINE_ALLOWED_HOSTS", "").strip()),
    totp_seed_key=TOTP_SEED_KEY,  # noqa: F405
)
if _problems:
    raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(_problems))

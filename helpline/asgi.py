"""The ASGI application: HTTP through Django, websockets through Channels, all behind the privacy strip."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpline.settings.dev")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from helpline.upstream import kept_threads_asgi_handler  # noqa: E402

django_http = kept_threads_asgi_handler()  # Django's handler, requests on kept threads (its docstring)

from helpline.settings.checks import refuse_unsafe_production  # noqa: E402

refuse_unsafe_production()  # production never serves on an unsafe configuration (settings/checks.py)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402  (needs the app registry ready)
from helpline.asgi_privacy import StripClientIdentity  # noqa: E402
from helpline.consumers import NoSuchRoute  # noqa: E402
from helpline.upstream import allow_policy_close  # noqa: E402

allow_policy_close()  # protocol.md §8's 1008 close, under whichever Daphne runs this application

# Last: any other websocket path is refused with 4404 rather than an exception in the logs.
all_websocket_routes = [*websocket_urlpatterns, re_path(r"", NoSuchRoute.as_asgi())]

application = StripClientIdentity(
    ProtocolTypeRouter(
        {
            "http": django_http,
            "websocket": AllowedHostsOriginValidator(URLRouter(all_websocket_routes)),
        }
    )
)

"""URL map: language-prefixed pages for people, unprefixed endpoints for scripts."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from helpline import views
from helpline.accounts.admin import StaffAdminSite

# The admin demands a verified second factor like every other staff page.
admin.site.__class__ = StaffAdminSite

urlpatterns: list[URLPattern | URLResolver] = [
    path("chat/", include("chat.api_urls")),
    path("count/", include("helpline.metrics.api_urls")),
    path("mailbox/", include("securemessages.api_urls")),
    path("favicon.ico", views.favicon, name="favicon"),
]

urlpatterns += i18n_patterns(
    path("", include("selfhelp.urls")),
    path("privacy/", views.privacy, name="privacy"),
    path("help/chat/", include("chat.urls")),
    path("help/message/", include("securemessages.urls")),
    path("staff/", include("helpline.accounts.urls")),
    path("staff/stats/", include("helpline.metrics.urls")),
    path("staff/chat/", include("chat.staff_urls")),
    path("staff/messages/", include("securemessages.staff_urls")),
    path("staff/admin/", admin.site.urls),
    prefix_default_language=True,
)

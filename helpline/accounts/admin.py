"""The admin's staff list gains one action (issue enrolment links); authenticators are listed, never their seeds."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts.actions import ENROLMENT_LINK_HOURS, issue_enrolment_link
from helpline.accounts.models import SealedTOTPDevice


@admin.action(description=_("Issue an enrolment link for an authenticator app"))
def issue_enrolment_links(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse:
    """Shows each new link once, on this page only: nothing but a hash of it is kept."""
    lang = get_language() or "en"
    links = [(user.get_username(), request.build_absolute_uri(issue_enrolment_link(user, lang=lang)))
             for user in queryset.order_by("username")]
    context = {**modeladmin.admin_site.each_context(request), "links": links, "hours": ENROLMENT_LINK_HOURS,
               "title": _("Enrolment links"), "opts": modeladmin.model._meta}
    return TemplateResponse(request, "admin/accounts/enrolment_links.html", context)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    actions = [issue_enrolment_links]


# Authenticators are made only by enrolment (a link, then a code): never typed into the admin, where a
# TOTPDevice would keep its seed in clear. The list shows whose they are and when they were last used.
admin.site.unregister(TOTPDevice)


@admin.register(SealedTOTPDevice)
class SealedTOTPDeviceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "name", "confirmed", "last_used_at"]
    fields = readonly_fields = ("user", "name", "confirmed", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

"""The admin's staff list gains one action (issue enrolment links); authenticators and recovery codes are listed,
never their seeds or codes; the admin's own sign-in checks recovery codes as the staff sign-in does."""

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
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpline.accounts.actions import ENROLMENT_LINK_HOURS, issue_enrolment_link
from helpline.accounts.models import RecoveryCodes, SealedTOTPDevice


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


# Recovery codes are kept as digests and checked by RecoveryCodes; django-otp's own StaticDevice admin would let
# someone type a code in clear (which would then never verify) and would show the digests. Listed, not edited.
admin.site.unregister(StaticDevice)


@admin.register(RecoveryCodes)
class RecoveryCodesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "codes_left", "last_used_at"]
    fields = readonly_fields = ("user", "codes_left", "created_at", "last_used_at")

    @admin.display(description=_("codes left"))
    def codes_left(self, device: RecoveryCodes) -> int:
        return int(device.token_set.count())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class AdminSignInForm(OTPAdminAuthenticationForm):  # type: ignore[misc]
    """django-otp's admin sign-in, offering a person's recovery codes as RecoveryCodes (which checks a typed
    code's digest), not as the StaticDevice django-otp lists (which would compare the code with a digest)."""

    @staticmethod
    def device_choices(user: Any) -> list[tuple[str, str]]:
        choices: list[tuple[str, str]] = OTPAdminAuthenticationForm.device_choices(user)
        listed, checked = f"{StaticDevice.model_label()}/", f"{RecoveryCodes.model_label()}/"
        return [(checked + value.removeprefix(listed) if value.startswith(listed) else value, name)
                for value, name in choices]


class StaffAdminSite(OTPAdminSite):  # type: ignore[misc]
    """The admin demands a verified second factor like every other staff page (helpline/urls.py)."""

    login_form = AdminSignInForm

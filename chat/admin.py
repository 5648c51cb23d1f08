"""Admin for what operators manage: canned responses, opening hours, closed days, chat settings, devices,
and the languages each counsellor answers chats in.

Live chats are not shown: an operator has no business with them, and they vanish when they end.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chat.models import CannedResponse, ClosedDay, CounsellorDevice, CounsellorProfile, OpeningHours, ServiceSettings
from chat.schema import LANGS
from helpline.accounts.access import COUNSEL


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "order")
    search_fields = ("title", "text_en", "text_nl")
    fieldsets = [(None, {
        "fields": ("title", "text_en", "text_nl", "order"),
        # chat.views.canned_responses: counsellors are offered a text only in chats of its language.
        "description": _("Counsellors are offered a text only in chats of its language: a response without a Dutch "
                         "text is not offered in Dutch chats (no English text ever goes into a Dutch chat). The "
                         "title is what counsellors see on the button."),
    })]


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("weekday", "opens", "closes")
    list_filter = ("weekday",)


@admin.register(ClosedDay)
class ClosedDayAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("date", "note")


@admin.register(ServiceSettings)
class ServiceSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("time_zone", "per_counsellor_cap")

    def has_add_permission(self, request: object) -> bool:
        return not ServiceSettings.objects.exists()


@admin.register(CounsellorDevice)
class CounsellorDeviceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: devices are certified and revoked with the management commands and the org key file."""

    list_display = ("id", "user", "pseudonym", "status", "not_after")
    list_filter = ("status",)
    readonly_fields = ("id", "user", "public_key", "pseudonym", "status", "certificate", "not_after",
                       "registered_on")

    def has_add_permission(self, request: object) -> bool:
        return False


class CounsellorProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    # Ticks instead of the JSON text box the model field would get: one box per chat language.
    languages = forms.MultipleChoiceField(
        choices=[(code, name) for code, name in settings.LANGUAGES if code in LANGS],
        widget=forms.CheckboxSelectMultiple, help_text="Chats in these languages are offered to this counsellor.")

    class Meta:
        model = CounsellorProfile
        fields = ("user", "languages")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only people who may counsel are routed chats, so only they can have a profile.
        counsel = Q(groups__permissions__codename=COUNSEL, groups__permissions__content_type__app_label="accounts")
        if "user" in self.fields:
            user_field: Any = self.fields["user"]
            user_field.queryset = get_user_model().objects.filter(counsel | Q(is_superuser=True)).distinct()


@admin.register(CounsellorProfile)
class CounsellorProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Which languages a counsellor answers chats in; a counsellor without a profile answers every language."""

    form = CounsellorProfileForm
    list_display = ("user", "languages")
    search_fields = ("user__username",)

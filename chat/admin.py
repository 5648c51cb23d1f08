"""Admin for what operators manage: canned responses, opening hours, closed days, chat settings, devices.

Live chats are not shown: an operator has no business with them, and they vanish when they end.
"""

from __future__ import annotations

from django.contrib import admin

from chat.models import CannedResponse, ClosedDay, CounsellorDevice, OpeningHours, ServiceSettings


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "order")
    search_fields = ("title", "text_en", "text_nl")


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

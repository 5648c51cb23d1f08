"""Admin for self-help content: English and Dutch side by side, with a preview of the rendered Markdown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from selfhelp.models import (
    Exercise,
    Module,
    PageText,
    Resource,
    Section,
    SelfCheckBand,
    SelfCheckQuestion,
    Signposting,
)
from selfhelp.rendering import render_markdown


def pairs(*names: str) -> list[str | list[str] | tuple[str, ...]]:
    """English and Dutch of each field on one admin row."""
    return [(f"{name}_en", f"{name}_nl") for name in names]


def preview(body_en: str, body_nl: str) -> SafeString:
    return format_html('<div style="display:flex;gap:2rem"><div lang="en" style="flex:1">{}</div>'
                       '<div lang="nl" style="flex:1">{}</div></div>',
                       render_markdown(body_en), render_markdown(body_nl))


class MarkEdited(admin.ModelAdmin):  # type: ignore[type-arg]
    """Saving in the admin marks the item so `load_content` never overwrites it."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        obj.edited_in_admin = True
        super().save_model(request, obj, form, change)


class SectionInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Section
    extra = 0
    fields = ["order", *pairs("heading", "body"), "rendered"]
    readonly_fields = ["rendered"]

    @admin.display(description="Preview")
    def rendered(self, obj: Section) -> SafeString:
        return preview(obj.body_en, obj.body_nl)


class ExerciseInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Exercise
    extra = 0
    fields = ["order", "key", "kind", "plan_field", "steps", *pairs("prompt", "items", "min_label", "max_label")]


@admin.register(Module)
class ModuleAdmin(MarkEdited):
    list_display = ["title_en", "slug", "audience", "order", "edited_in_admin"]
    list_filter = ["audience", "edited_in_admin"]
    fieldsets = [
        (None, {"fields": ["slug", "audience", "order", "minutes", "edited_in_admin"]}),
        ("English | Dutch", {"fields": pairs("title", "summary", "aims", "reflection", "next_step")}),
    ]
    inlines = [SectionInline, ExerciseInline]


@admin.register(Resource)
class ResourceAdmin(MarkEdited):
    list_display = ["name_en", "category", "country", "phone", "edited_in_admin"]
    list_filter = ["category", "country"]
    fieldsets = [
        (None, {"fields": ["key", "order", "category", "country", "languages", "phone", "web", "edited_in_admin"]}),
        ("English | Dutch", {"fields": pairs("name", "hours", "offers")}),
    ]


@admin.register(Signposting)
class SignpostingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One row: the service's countries (their numbers come first for visitors) and its own phone line."""

    fields = ["countries", "own_phone", ("own_phone_hours_en", "own_phone_hours_nl")]

    def has_add_permission(self, request: Any) -> bool:
        return not Signposting.objects.exists()


@admin.register(SelfCheckQuestion)
class SelfCheckQuestionAdmin(MarkEdited):
    list_display = ["key", "order", "reverse", "talk_now_threshold", "edited_in_admin"]
    fields = ["key", "order", "reverse", "talk_now_threshold", "modules", ("text_en", "text_nl"), "edited_in_admin"]


@admin.register(SelfCheckBand)
class SelfCheckBandAdmin(MarkEdited):
    list_display = ["band", "min_score", "edited_in_admin"]


@admin.register(PageText)
class PageTextAdmin(MarkEdited):
    list_display = ["page", "key", "edited_in_admin"]
    list_filter = ["page"]
    fields = ["page", "key", ("body_en", "body_nl"), "rendered", "edited_in_admin"]
    readonly_fields = ["rendered"]

    @admin.display(description="Preview")
    def rendered(self, obj: PageText) -> SafeString:
        return preview(obj.body_en, obj.body_nl)

"""Self-help content an operator edits in the admin: English and Dutch side by side on one row."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language

from selfhelp.countries import COUNTRY_NAMES, parse_countries

AUDIENCES = [("self", "Worried about own thoughts or behaviour"), ("others", "Worried about someone else"),
             ("professionals", "Works with people or children")]
EXERCISE_KINDS = [("reflection", "reflection"), ("checklist", "checklist"), ("scale", "scale"), ("plan", "plan")]
PLAN_FIELDS = [("warning_signs", "warning signs"), ("coping_steps", "coping steps"), ("contacts", "contacts"),
               ("reasons", "reasons to change")]


def current_language() -> str:
    return (get_language() or "en")[:2]


class Localized:
    """`obj.title` reads `title_<language>` for the active language, falling back to English when empty."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = getattr(obj, f"{self.field}_{current_language()}", "")
        return value or getattr(obj, f"{self.field}_en")


def validate_country(code: str) -> None:
    if code and code not in COUNTRY_NAMES:
        raise ValidationError(f"Not a country code this site knows: {code!r} (see selfhelp/countries.py).")


def validate_countries(value: str) -> None:
    try:
        parse_countries(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class Shipped(models.Model):
    """Bookkeeping for `load_content`: which shipped entry this row came from and whether staff changed it."""

    source_hash = models.CharField(max_length=64, blank=True, editable=False)
    edited_in_admin = models.BooleanField(
        default=False, help_text="Set when saved in the admin; load_content then never overwrites this item.")

    class Meta:
        abstract = True


class Module(Shipped):
    slug = models.SlugField(unique=True)
    audience = models.CharField(max_length=20, choices=AUDIENCES)
    order = models.PositiveIntegerField(default=0)
    minutes = models.PositiveIntegerField(default=10)
    title_en = models.CharField(max_length=200)
    title_nl = models.CharField(max_length=200)
    summary_en = models.TextField()
    summary_nl = models.TextField()
    aims_en = models.TextField(help_text="One aim per line.")
    aims_nl = models.TextField(help_text="One aim per line.")
    reflection_en = models.TextField(blank=True)
    reflection_nl = models.TextField(blank=True)
    next_step_en = models.TextField(blank=True)
    next_step_nl = models.TextField(blank=True)

    title = Localized("title")
    summary = Localized("summary")
    reflection = Localized("reflection")
    next_step = Localized("next_step")

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self) -> str:
        return self.title_en

    @property
    def aims(self) -> list[str]:
        return [line.strip() for line in str(Localized("aims").__get__(self)).splitlines() if line.strip()]


class Section(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="sections")
    order = models.PositiveIntegerField(default=0)
    heading_en = models.CharField(max_length=200)
    heading_nl = models.CharField(max_length=200)
    body_en = models.TextField(help_text="Markdown.")
    body_nl = models.TextField(help_text="Markdown.")

    heading = Localized("heading")
    body = Localized("body")

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.heading_en


class Exercise(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="exercises")
    order = models.PositiveIntegerField(default=0)
    key = models.SlugField(max_length=80, unique=True, help_text="Names the answer in the visitor's browser.")
    kind = models.CharField(max_length=20, choices=EXERCISE_KINDS)
    plan_field = models.CharField(max_length=20, choices=PLAN_FIELDS, blank=True)
    steps = models.PositiveIntegerField(default=10, help_text="Scale exercises: number of points.")
    prompt_en = models.TextField()
    prompt_nl = models.TextField()
    items_en = models.TextField(blank=True, help_text="Checklist exercises: one item per line.")
    items_nl = models.TextField(blank=True, help_text="Checklist exercises: one item per line.")
    min_label_en = models.CharField(max_length=120, blank=True)
    min_label_nl = models.CharField(max_length=120, blank=True)
    max_label_en = models.CharField(max_length=120, blank=True)
    max_label_nl = models.CharField(max_length=120, blank=True)

    prompt = Localized("prompt")
    min_label = Localized("min_label")
    max_label = Localized("max_label")

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.key

    @property
    def items(self) -> list[str]:
        return [line.strip() for line in str(Localized("items").__get__(self)).splitlines() if line.strip()]

    @property
    def scale_points(self) -> list[int]:
        return list(range(1, self.steps + 1))


class Resource(Shipped):
    key = models.SlugField(max_length=80, unique=True)
    order = models.PositiveIntegerField(default=0)
    name_en = models.CharField(max_length=200)
    name_nl = models.CharField(max_length=200, blank=True, help_text="Empty: the English name is shown.")
    category = models.CharField(max_length=30, help_text="emergency, crisis, helpline, children, reporting, …")
    country = models.CharField(max_length=2, blank=True, validators=[validate_country],
                               help_text="Two-letter country code (NL, GB, …); empty: works in every country.")
    languages = models.CharField(max_length=60, blank=True, help_text="Comma-separated language codes.")
    phone = models.CharField(max_length=40, blank=True)
    web = models.URLField(blank=True)
    hours_en = models.CharField(max_length=200, blank=True)
    hours_nl = models.CharField(max_length=200, blank=True)
    offers_en = models.TextField(blank=True)
    offers_nl = models.TextField(blank=True)

    name = Localized("name")
    hours = Localized("hours")
    offers = Localized("offers")

    class Meta:
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.name_en


class SelfCheckQuestion(Shipped):
    key = models.SlugField(max_length=80, unique=True)
    order = models.PositiveIntegerField(default=0)
    reverse = models.BooleanField(default=False, help_text="Agreeing is the good sign: the score is reversed.")
    talk_now_threshold = models.PositiveIntegerField(
        default=0, help_text="If above 0, an answer scoring at least this shows 'talk now' whatever the total.")
    modules = models.CharField(max_length=200, blank=True, help_text="Comma-separated module slugs to suggest.")
    text_en = models.TextField()
    text_nl = models.TextField()

    text = Localized("text")

    class Meta:
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.key

    @property
    def module_slugs(self) -> list[str]:
        return [slug.strip() for slug in self.modules.split(",") if slug.strip()]


class SelfCheckBand(Shipped):
    band = models.SlugField(max_length=40, unique=True)
    min_score = models.PositiveIntegerField()

    class Meta:
        ordering = ["min_score"]

    def __str__(self) -> str:
        return self.band


class PageText(Shipped):
    """A piece of page text (Markdown or plain) keyed by page and name, e.g. ('right_now', 'intro')."""

    page = models.SlugField(max_length=40)
    key = models.SlugField(max_length=80)
    body_en = models.TextField(blank=True)
    body_nl = models.TextField(blank=True)

    body = Localized("body")

    class Meta:
        ordering = ["page", "key"]
        constraints = [models.UniqueConstraint(fields=["page", "key"], name="selfhelp_pagetext_unique")]

    def __str__(self) -> str:
        return f"{self.page}: {self.key}"


class Signposting(models.Model):
    """Where the service works and its own phone line, one row (admin-editable): the right-now page, the
    closed chat and the self-check's talk-now result lead with these countries' numbers."""

    countries = models.CharField(
        max_length=60, default="NL", validators=[validate_countries],
        help_text="The service's country or countries, as two-letter codes in the order to show them: NL or GB, IE.")
    own_phone = models.CharField(max_length=40, blank=True,
                                 help_text="The service's own phone line, if it has one (shown first).")
    own_phone_hours_en = models.CharField(max_length=200, blank=True)
    own_phone_hours_nl = models.CharField(max_length=200, blank=True)

    own_phone_hours = Localized("own_phone_hours")

    class Meta:
        verbose_name = "signposting"
        verbose_name_plural = "signposting"

    def __str__(self) -> str:
        return f"signposting for {self.countries}"

    @property
    def country_codes(self) -> list[str]:
        try:
            return parse_countries(self.countries)
        except ValueError:
            return []

    @classmethod
    def current(cls) -> Signposting:
        row = cls.objects.first()
        return row if row is not None else cls()

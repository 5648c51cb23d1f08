"""Template filters for self-help pages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from selfhelp import rendering

register = template.Library()


@register.filter
def render_markdown(text: str) -> SafeString:
    return rendering.render_markdown(text)

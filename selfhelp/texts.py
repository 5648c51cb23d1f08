"""Operator-editable page texts (PageText) for other apps' pages, e.g. the chat page's introduction."""

from __future__ import annotations

from django.utils.safestring import SafeString

from selfhelp.models import PageText
from selfhelp.rendering import render_markdown


def page_text(page: str, key: str, default: str = "") -> str:
    """The text in the active language (English when the Dutch one is empty), or `default` if not loaded."""
    text = PageText.objects.filter(page=page, key=key).first()
    return str(text.body) if text else default


def rendered_page_texts(page: str) -> dict[str, SafeString]:
    """Every text of one page in the active language, Markdown rendered and sanitised; {} if none loaded."""
    return {text.key: render_markdown(str(text.body)) for text in PageText.objects.filter(page=page)}

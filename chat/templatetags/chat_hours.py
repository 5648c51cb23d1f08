"""`{% chat_badge %}`: whether the chat is open, next to a chat link; `{% chat_badge short=True %}` for the menu."""

from __future__ import annotations

from typing import Any

from django import template

from chat.hours import describe, status_for

register = template.Library()


@register.inclusion_tag("chat/_badge.html", takes_context=True)
def chat_badge(context: Any, short: bool = False) -> dict[str, Any]:
    status = status_for(context.get("request"))
    words = describe(status)
    return {"is_open": status.is_open, "text": words["short"] if short else words["long"], "short": short}

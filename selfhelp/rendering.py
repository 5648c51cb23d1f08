"""Markdown from the content files and the admin, turned into HTML that can carry nothing active."""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h3", "h4", "blockquote", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}


def render_markdown(text: str) -> SafeString:
    """Markdown → HTML → only basic tags; links keep an href only if it is relative or https."""
    html = markdown.markdown(text or "", output_format="html")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"https"},
                      link_rel="noopener noreferrer", strip_comments=True)
    return mark_safe(clean)  # noqa: S308 (sanitised by nh3 just above)

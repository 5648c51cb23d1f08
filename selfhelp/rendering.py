"""Markdown from the content files and the admin, turned into HTML that can carry nothing active.

The one place the site renders Markdown (self-help pages, page texts, the chat's pre-chat text), with one
sanitiser rule set.
"""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h3", "h4", "blockquote", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
# What a browser's URL parser skips or rewrites before it reads a link: tabs and newlines anywhere, control
# characters and spaces in front, and a backslash read as a slash.
_IGNORED_ANYWHERE = str.maketrans("", "", "\t\n\r")
_IGNORED_IN_FRONT = "".join(chr(code) for code in range(0x21))


def same_site_link(url: str) -> str | None:
    """A relative link as nh3 hands it over; None for a protocol-relative one (`//evil.example` leaves the site).

    nh3 passes every relative URL here; absolute ones are held to `url_schemes` (https only) before.
    """
    as_read = url.translate(_IGNORED_ANYWHERE).lstrip(_IGNORED_IN_FRONT).replace("\\", "/")
    return None if as_read.startswith("//") else url


def render_markdown(text: str) -> SafeString:
    """Markdown → HTML → only basic tags; a link keeps its href only if it is https or stays on this site."""
    html = markdown.markdown(text or "", output_format="html")
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"https"},
                      url_relative=same_site_link, link_rel="noopener noreferrer", strip_comments=True)
    return mark_safe(clean)  # noqa: S308 (sanitised by nh3 just above)

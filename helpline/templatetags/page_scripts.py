"""The one way a template loads a script: every module pinned by its hash (helpline/assets.py).

    {% load page_scripts %}
    {% module_script "chat/visitor.js" %}                    in {% block scripts %} (or page_scripts)
    {% module_preload org_key id="org-key-module" %}         a dynamic module the view pinned

base.html puts `{% import_map %}` at the top of <head>, so it precedes every module a page loads. A view
that serves a module of its own (not a static file) passes it in the context as `pinned_modules`, a list of
{url, integrity}; the import map then pins it too. A test fails if a template writes <script> itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from helpline import assets

register = template.Library()

@register.simple_tag(takes_context=True)
def import_map(context: template.Context) -> SafeString:
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured("{% import_map %} needs the request in the context (render with a request)")
    text = assets.import_map(context.get("pinned_modules") or ())
    hashes = getattr(request, assets.INLINE_SCRIPT_HASHES, [])
    hashes.append(assets.csp_sha256(text))
    setattr(request, assets.INLINE_SCRIPT_HASHES, hashes)
    # The text is JSON with <, > and & escaped (assets.import_map), so it cannot end the element.
    return mark_safe(f'<script type="importmap">{text}</script>')  # noqa: S308


@register.simple_tag
def module_script(name: str) -> SafeString:
    file = assets.served_file(name)
    return format_html('<script type="module" src="{}" integrity="{}"></script>', file.url, file.sri)


@register.simple_tag
def module_preload(module: Mapping[str, str], id: str) -> SafeString:
    return format_html('<link rel="modulepreload" href="{}" integrity="{}" id="{}">', module["url"],
                       module["integrity"], id)

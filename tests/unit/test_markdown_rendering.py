"""Markdown is rendered in one place (selfhelp.rendering) with one rule set: basic tags only, and links that
are https or stay on this site. A protocol-relative link (`//evil.example`), in any spelling a browser reads
as one, loses its href (issue 14, item 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from selfhelp.rendering import render_markdown, same_site_link

LEAVING_THE_SITE = [
    "[x](//evil.example/help)",
    "[x]( //evil.example)",
    "[x](\\\\\\\\evil.example)",  # Markdown unescapes to \\evil.example; a browser reads //evil.example
    "[x](/\\evil.example)",
    '<a href="//evil.example">x</a>',
    "[x](http://evil.example)",
    "[x](javascript:alert(1))",
]
STAYING = [
    ("[x](/en/help/chat/)", 'href="/en/help/chat/"'),
    ("[x](#top)", 'href="#top"'),
    ("[x](modules/)", 'href="modules/"'),
    ("[x](https://www.113.nl)", 'href="https://www.113.nl"'),
]


@pytest.mark.parametrize("source", LEAVING_THE_SITE)
def test_a_link_that_leaves_the_site_keeps_its_text_but_not_its_href(source: str) -> None:
    html = str(render_markdown(source))
    assert "href" not in html and "evil" not in html.replace(">x<", ""), html
    assert ">x</a>" in html


@pytest.mark.parametrize("url", ["/\t/evil.example", "\n//evil.example", "\x00 \\\\evil.example", "/\\evil.example"])
def test_a_browser_reads_these_as_protocol_relative_and_they_are_dropped(url: str) -> None:
    # Markdown turns a tab into spaces before nh3 sees it; the rule does not count on that.
    assert same_site_link(url) is None


@pytest.mark.parametrize(("source", "kept"), STAYING)
def test_links_on_this_site_and_https_links_are_kept(source: str, kept: str) -> None:
    html = str(render_markdown(source))
    assert kept in html and 'rel="noopener noreferrer"' in html


def test_the_chat_intro_is_rendered_by_the_same_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from chat import views

    intro = tmp_path / "chat_intro.toml"
    intro.write_text('[en]\ntitle = "<b>Before</b> you chat"\n'
                     + "".join(f'{name} = "[away](//evil.example) and **{name}**"\n' for name in views.INTRO_SECTIONS))
    monkeypatch.setattr(views, "CHAT_INTRO_TOML", intro)
    views._intro_from_toml.cache_clear()
    try:
        rendered: dict[str, Any] = views._intro_from_toml("en")
    finally:
        views._intro_from_toml.cache_clear()
    assert str(rendered["title"]) == "&lt;b&gt;Before&lt;/b&gt; you chat"
    for name in views.INTRO_SECTIONS:
        assert str(rendered[name]) == f'<p><a rel="noopener noreferrer">away</a> and <strong>{name}</strong></p>'

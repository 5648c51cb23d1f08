"""Modules as a guided path per audience: where you are ("3 of 9"), the jump list, previous and next, and a
"Next step" whose links all lead to real pages in the same language."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from selfhelp.loader import load_all
from selfhelp.models import AUDIENCES, Module


@pytest.fixture
def content(db: None) -> None:
    load_all()


def test_a_module_says_where_it_is_on_its_path_and_links_both_ways(content: None) -> None:
    html = Client().get("/en/help/modules/the-law/").content.decode()
    assert "Module 3 of 9" in html and '<progress value="3" max="9"' in html
    assert re.search(r'<a rel="prev" href="/en/help/modules/online-behaviour/">.*Understanding my online behaviour',
                     html)
    assert re.search(r'<a rel="next" class="button" data-next-module href="/en/help/modules/impact-on-children/">',
                     html)
    path = html.split('class="path-steps"')[1].split("</ol>")[0]
    assert re.findall(r'data-module-slug="([\w-]+)"', path) == list(
        Module.objects.filter(audience="self").values_list("slug", flat=True))
    assert 'href="/en/help/modules/the-law/" aria-current="step"' in path


def test_every_audience_is_its_own_path_from_first_to_last(content: None) -> None:
    client = Client()
    for audience, _label in AUDIENCES:
        slugs = list(Module.objects.filter(audience=audience).values_list("slug", flat=True))
        first = client.get(f"/nl/help/modules/{slugs[0]}/").content.decode()
        assert 'rel="prev"' not in first and f"Module 1 van {len(slugs)}" in first
        last = client.get(f"/nl/help/modules/{slugs[-1]}/").content.decode()
        assert 'rel="next"' not in last and "Dit is de laatste module van deze reeks." in last


def test_the_jump_list_points_at_every_section(content: None) -> None:
    module = Module.objects.get(slug="managing-urges")
    html = Client().get("/en/help/modules/managing-urges/").content.decode()
    toc = html.split('aria-labelledby="toc-heading"')[1].split("</nav>")[0]
    targets = re.findall(r'href="#([\w-]+)"', toc)
    assert len(targets) == module.sections.count() + 2  # the sections, the exercises, the next step
    for target in targets:
        assert f'id="{target}"' in html


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_next_step_links_lead_to_real_pages_in_the_same_language(content: None, lang: str) -> None:
    client = Client()
    linked = 0
    for module in Module.objects.all():
        html = client.get(f"/{lang}/help/modules/{module.slug}/").content.decode()
        next_step = html.split('id="next-step-heading"')[1].split("</section>")[0]
        for href in re.findall(r'<a href="([^"]+)"', next_step):
            assert href.startswith(f"/{lang}/"), (module.slug, href)
            assert client.get(href).status_code == 200, (module.slug, href)
            linked += 1
    assert linked >= 15
    for slug, target in [("managing-urges", "help/right-now/"), ("why-change", "help/safety-plan/")]:
        html = client.get(f"/{lang}/help/modules/{slug}/").content.decode()
        assert f'href="/{lang}/{target}"' in html.split('id="next-step-heading"')[1].split("</section>")[0]

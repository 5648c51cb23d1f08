"""Self-help content: the loader, the sanitiser, the admin's edit flag, and every page in both languages."""

from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.sites import AdminSite
from django.core.management import call_command
from django.test import Client, RequestFactory

from helpline.metrics.models import DailyCount
from selfhelp.admin import ModuleAdmin
from selfhelp.loader import CONTENT_DIR, ContentError, load_all
from selfhelp.models import Exercise, Module, PageText, Resource, Section, SelfCheckBand, SelfCheckQuestion
from selfhelp.rendering import render_markdown

REPO = Path(__file__).resolve().parent.parent.parent
MODULE_FILES = sorted((CONTENT_DIR / "modules").glob("*.toml"))
PO = REPO / "selfhelp" / "locale" / "nl" / "LC_MESSAGES" / "django.po"


@pytest.fixture
def client() -> Client:
    return Client(HTTP_USER_AGENT="CanaryAgent/9.9")


@pytest.fixture
def content(db: None) -> None:
    load_all()


def all_rows() -> dict[str, list[tuple[object, ...]]]:
    return {model.__name__: list(model.objects.order_by("pk").values_list())
            for model in (Module, Section, Exercise, Resource, SelfCheckQuestion, SelfCheckBand, PageText)}


# --- Loader ---------------------------------------------------------------------------------------------------

def test_loader_loads_every_shipped_file(content: None) -> None:
    assert Module.objects.count() == len(MODULE_FILES) > 0
    assert Resource.objects.count() > 0 and SelfCheckQuestion.objects.count() > 0
    assert PageText.objects.filter(page="right-now", key="steps").exists()
    assert PageText.objects.filter(page="chat-intro", key="encryption").exists()
    assert PageText.objects.filter(page="selfcheck", key="band-talk-now").exists()
    for module in Module.objects.all():
        assert module.sections.exists(), module.slug


def test_loader_is_idempotent(content: None) -> None:
    before = all_rows()
    report = load_all()
    assert (report.created, report.updated) == ([], [])
    assert all_rows() == before


def test_load_content_is_silent_at_verbosity_0(db: None) -> None:
    out, err = StringIO(), StringIO()
    call_command("load_content", verbosity=0, stdout=out, stderr=err)
    call_command("load_content", verbosity=0, stdout=out, stderr=err)
    assert out.getvalue() == err.getvalue() == ""
    assert Module.objects.count() == len(MODULE_FILES)


def copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def test_loader_updates_changed_shipped_items_but_keeps_operator_edits(db: None, tmp_path: Path) -> None:
    content_dir = copy_content(tmp_path)
    load_all(content_dir)
    first, second = MODULE_FILES[0].name, MODULE_FILES[1].name
    edited = Module.objects.get(slug=re.search(r'^slug = "(.+)"', (content_dir / "modules" / second).read_text(),
                                               re.M).group(1))  # type: ignore[union-attr]
    edited.title_en = "Operator's own title"
    edited.edited_in_admin = True
    edited.save()
    for name in (first, second):
        path = content_dir / "modules" / name
        path.write_text(path.read_text().replace('[en]\ntitle = "', '[en]\ntitle = "Revised: ', 1))
    report = load_all(content_dir)
    updated = Module.objects.get(slug=re.search(r'^slug = "(.+)"', (content_dir / "modules" / first).read_text(),
                                                re.M).group(1))  # type: ignore[union-attr]
    assert updated.title_en.startswith("Revised: ")
    assert updated.sections.exists()
    edited.refresh_from_db()
    assert edited.title_en == "Operator's own title"
    assert len(report.updated) == 1 and len(report.kept_edited) == 1


@pytest.mark.parametrize(("change", "expected"), [
    (lambda text: text.replace("\n[nl]\ntitle = ", "\n[nl]\nuntitled = ", 1), "nl.title: missing"),
    (lambda text: re.sub(r'^audience = ".*"', 'audience = "everyone"', text, count=1, flags=re.M), "audience"),
    (lambda text: re.sub(r'^order = \d+', 'order = "first"', text, count=1, flags=re.M), "order: expected int"),
    (lambda text: text + "\n[[en.exercises]]\nkey = \"x-extra\"\nkind = \"poem\"\nprompt = \"p\"\n", "exercises"),
])
def test_loader_rejects_bad_content_naming_file_and_field(db: None, tmp_path: Path, change: object,
                                                          expected: str) -> None:
    content_dir = copy_content(tmp_path)
    path = content_dir / "modules" / MODULE_FILES[0].name
    path.write_text(change(path.read_text()))  # type: ignore[operator]
    with pytest.raises(ContentError) as error:
        load_all(content_dir)
    assert MODULE_FILES[0].name in str(error.value) and expected in str(error.value)
    assert not Module.objects.exists(), "nothing is written when a file is invalid"


def test_resources_only_from_the_shipped_file(content: None) -> None:
    shipped = (CONTENT_DIR / "resources.toml").read_text()
    for resource in Resource.objects.all():
        assert resource.name in shipped
        assert not resource.phone or f'phone = "{resource.phone}"' in shipped
        assert not resource.web or resource.web.startswith("https://")


def test_admin_save_marks_item_as_edited(content: None) -> None:
    module = Module.objects.first()
    assert module is not None and not module.edited_in_admin
    request = RequestFactory().post("/")
    ModuleAdmin(Module, AdminSite()).save_model(request, module, form=None, change=True)
    module.refresh_from_db()
    assert module.edited_in_admin


# --- Markdown sanitiser ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dangerous", [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "[x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>', '<p onclick="alert(1)">x</p>', "[x](http://plain.invalid/)",
    '<iframe src="https://e.invalid"></iframe>', '<a href="data:text/html,hi">x</a>',
])
def test_markdown_sanitiser_strips_active_content(dangerous: str) -> None:
    html = str(render_markdown(f"Hello {dangerous} world"))
    for forbidden in ("<script", "onerror", "onclick", "javascript:", "http://", "<iframe", "<img", "data:"):
        assert forbidden not in html.lower(), html


def test_markdown_keeps_basic_formatting_and_safe_links() -> None:
    html = str(render_markdown("**bold** and [chat](/en/help/chat/) and [113](https://www.113.nl)\n\n- one\n- two"))
    assert "<strong>bold</strong>" in html and "<li>one</li>" in html
    assert 'href="/en/help/chat/"' in html and 'href="https://www.113.nl"' in html


# --- Pages ----------------------------------------------------------------------------------------------------

PAGES = ["/{lang}/", "/{lang}/help/modules/", "/{lang}/help/self-check/", "/{lang}/help/right-now/",
         "/{lang}/help/resources/", "/{lang}/help/safety-plan/"]


def english_chrome() -> list[str]:
    """Every English msgid of our catalogue whose Dutch text differs (the strings a Dutch page must not show)."""
    text = PO.read_text(encoding="utf-8")
    found = []
    for entry in text.split("\n\n")[1:]:
        msgid = "".join(re.findall(r'"(.*)"', entry.split("msgid ", 1)[1].split("msgstr", 1)[0].split(
            "msgid_plural")[0]))
        msgstr = "".join(re.findall(r'"(.*)"', entry.split("msgstr", 1)[1]))
        if msgid and msgid != msgstr and "%(" not in msgid and len(msgid) > 6:
            found.append(msgid.replace("\\'", "'").replace("'", "&#x27;"))
    return found


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_page_and_module_renders_without_cookies(content: None, client: Client, lang: str) -> None:
    urls = [p.format(lang=lang) for p in PAGES] + [f"/{lang}/help/modules/{m.slug}/" for m in Module.objects.all()]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert not response.cookies, url
        assert "Cookie" not in response.get("Vary", ""), url


def test_every_module_renders_in_both_languages_with_no_english_leftovers(content: None, client: Client) -> None:
    chrome = english_chrome()
    assert len(chrome) > 30
    for module in Module.objects.all():
        english = client.get(f"/en/help/modules/{module.slug}/").content.decode()
        dutch = client.get(f"/nl/help/modules/{module.slug}/").content.decode()
        assert module.title_en.replace("'", "&#x27;") in english and '<html lang="en">' in english
        assert module.title_nl.replace("'", "&#x27;") in dutch and '<html lang="nl">' in dutch
        for exercise in module.exercises.all():
            assert f'data-exercise="{exercise.key}"' in dutch
        leftovers = [s for s in chrome if s in dutch]
        assert not leftovers, (module.slug, leftovers)


@pytest.mark.parametrize("path", PAGES)
def test_dutch_pages_have_no_english_chrome(content: None, client: Client, path: str) -> None:
    dutch = client.get(path.format(lang="nl")).content.decode()
    assert not [s for s in english_chrome() if s in dutch]


def test_home_has_three_entry_paths_chat_and_right_now(content: None, client: Client) -> None:
    html = client.get("/en/").content.decode()
    for text in ("my own thoughts or behaviour", "someone else", "I work with people or children"):
        assert text in html
    assert 'href="/en/help/chat/"' in html and 'href="/en/help/right-now/"' in html


def test_module_list_groups_by_audience(content: None, client: Client) -> None:
    html = client.get("/en/help/modules/").content.decode()
    for code in ("self", "others", "professionals"):
        assert f'id="{code}"' in html
    assert html.index('id="self"') < html.index('id="others"') < html.index('id="professionals"')


def test_right_now_lists_chat_helplines_and_crisis_lines(content: None, client: Client) -> None:
    html = client.get("/en/help/right-now/").content.decode()
    assert 'href="/en/help/chat/"' in html and "If you are thinking about suicide" in html
    for resource in Resource.objects.filter(category__in=["crisis", "helpline"]).exclude(phone=""):
        assert resource.phone in html
    assert DailyCount.objects.get(metric="selfhelp.right_now_view").count == 1


def test_module_page_counts_a_view_and_is_cacheable(content: None, client: Client) -> None:
    module = Module.objects.first()
    assert module is not None
    url = f"/en/help/modules/{module.slug}/"
    response = client.get(url)
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert DailyCount.objects.get(metric="selfhelp.page_view", dimension=module.slug).count == 2
    assert client.get("/en/help/modules/no-such-module/").status_code == 404


def test_module_page_is_light(content: None, client: Client) -> None:
    """≤ 4 requests (page, stylesheet, two scripts) and ≤ 50 KB for the largest module, uncompressed."""
    from django.conf import settings

    for module in Module.objects.all():
        html = client.get(f"/en/help/modules/{module.slug}/").content
        assets = re.findall(rb'<(?:script[^>]*src|link[^>]*href)="(/static/[^"]+)"', html)
        assert len(assets) + 1 <= 4, assets
        total = len(html) + sum(Path(settings.STATIC_ROOT, a.decode().removeprefix("/static/")).stat().st_size
                                for a in assets)
        assert total <= 50_000, (module.slug, total)


def test_pages_work_with_an_empty_database(db: None, client: Client) -> None:
    for path in PAGES:
        assert client.get(path.format(lang="en")).status_code == 200


@pytest.mark.parametrize("model", [Module, Resource, SelfCheckQuestion, PageText])
def test_admin_change_page_shows_english_and_dutch_side_by_side(content: None, model: type) -> None:
    from django.contrib import admin
    from django.contrib.auth.models import User

    user = User.objects.create_superuser("content-admin", password="x" * 20)
    user.is_verified = lambda: True  # type: ignore[attr-defined]
    request = RequestFactory().get("/")
    request.user = user
    model_admin = admin.site._registry[model]
    obj = model.objects.first()  # type: ignore[attr-defined]
    response = model_admin.change_view(request, str(obj.pk))
    html = response.render().content.decode()
    assert response.status_code == 200
    assert re.search(r'class="form-row[^"]*field-\w+_en field-\w+_nl', html), html[:500]
    if model in (Module, PageText):
        assert "Preview" in html


def test_chat_intro_texts_are_available_to_the_chat_page(content: None) -> None:
    from django.utils import translation

    from selfhelp.texts import page_text, rendered_page_texts

    with translation.override("nl"):
        texts = rendered_page_texts("chat-intro")
        assert set(texts) == {"title", "what_it_is", "who_answers", "encryption", "what_we_keep",
                              "confidentiality_limits"}
        assert page_text("chat-intro", "title") == "Praat met een hulpverlener"
        assert "<strong>" in texts["encryption"]
    assert page_text("chat-intro", "missing", "fallback") == "fallback"


def test_every_selfhelp_message_is_translated_to_dutch() -> None:
    import subprocess

    stats = subprocess.run(["msgfmt", "--statistics", "-o", "/dev/null", str(PO)], capture_output=True, text=True,
                           check=True).stderr
    assert "untranslated" not in stats and "fuzzy" not in stats, stats
    assert "In this module" in english_chrome() and "Wipe everything this site saved on this device" in english_chrome()

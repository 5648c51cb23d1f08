"""Self-help pages for visitors; nothing here reads or stores anything about the visitor.

Pages without per-visitor state are public-cacheable for five minutes and carry an ETag of their body;
counters therefore count requests that reach the server (200 or 304), not copies a browser reuses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from chat.hours import cache_seconds, status_for
from helpline.metrics.actions import increment
from selfhelp.models import AUDIENCES, Module, PageText, Resource, SelfCheckBand, SelfCheckQuestion
from selfhelp.selfcheck import TALK_NOW, Question, score_selfcheck
from selfhelp.signposting import lines_for_visitor

PLAN_FIELD_ORDER = ("warning_signs", "coping_steps", "contacts", "reasons")
CACHE_SECONDS = 300


def cacheable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Public caching for 5 minutes plus an ETag, so a revisit costs a 304 and no body."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code != 200:
            return response
        # Every visitor page says whether the chat is open: never reuse one past the moment that changes.
        patch_cache_control(response, public=True, max_age=cache_seconds(status_for(request), CACHE_SECONDS))
        set_response_etag(response)
        conditional = get_conditional_response(request, etag=response.headers.get("ETag"), response=response)
        return conditional if conditional is not None else response

    return wrapper


def audience_labels() -> dict[str, str]:
    return {"self": _("I'm worried about my own thoughts or behaviour"),
            "others": _("I'm worried about someone else"),
            "professionals": _("I work with people or children")}


def page_texts(page: str) -> dict[str, str]:
    return {text.key: text.body for text in PageText.objects.filter(page=page)}


def plan_labels() -> dict[str, str]:
    return {"warning_signs": _("My warning signs"), "coping_steps": _("What I will do (coping steps)"),
            "contacts": _("People and services I can contact"), "reasons": _("My reasons to change")}


def script_strings() -> dict[str, str]:
    """Strings the page script shows, translated here so the script stays a static file."""
    return {
        "saved": _("Saved on this device only."),
        "not_saved": _("This browser does not let the page save anything, so your answers are not kept."),
        "wiped": _("Everything this site saved on this device has been wiped."),
        "undo_hint": _("You can undo this for {seconds} seconds."),
        "restored": _("Everything is back as it was."),
        "finished": _("You marked this module as finished."),
        "plan_title": _("My safety plan"),
        "plan_file": _("safety-plan.txt"),
        "plan_note": _("Made on this website, in your own browser. We never received a copy."),
        "started": _("Started on this device"),
        "completed": _("Finished on this device"),
        **{f"plan_{name}": label for name, label in plan_labels().items()},
    }


@require_GET
@cacheable
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "selfhelp/home.html", {"audiences": audience_labels()})


@require_GET
@cacheable
def module_list(request: HttpRequest) -> HttpResponse:
    labels = audience_labels()
    modules = list(Module.objects.all())
    groups = [{"code": code, "label": labels[code], "modules": [m for m in modules if m.audience == code]}
              for code, _label in AUDIENCES]
    return render(request, "selfhelp/module_list.html", {"groups": [g for g in groups if g["modules"]],
                                                         "strings": script_strings()})


@require_GET
@cacheable
def module_detail(request: HttpRequest, slug: str) -> HttpResponse:
    module = Module.objects.filter(slug=slug).first()
    if module is None:
        raise Http404
    increment("selfhelp.page_view", slug)
    path = list(Module.objects.filter(audience=module.audience).only("slug", "title_en", "title_nl"))
    place = next(index for index, step in enumerate(path) if step.pk == module.pk)
    return render(request, "selfhelp/module.html", {
        "module": module, "sections": list(module.sections.all()), "exercises": list(module.exercises.all()),
        "audience_label": audience_labels().get(module.audience, ""), "strings": script_strings(),
        "path": path, "step": place + 1, "previous": path[place - 1] if place > 0 else None,
        "next": path[place + 1] if place + 1 < len(path) else None,
    })


@require_GET
@cacheable
def right_now(request: HttpRequest) -> HttpResponse:
    increment("selfhelp.right_now_view")
    texts = page_texts("right-now")
    return render(request, "selfhelp/right_now.html", {
        "texts": texts, "steps": [s for s in texts.get("steps", "").splitlines() if s.strip()],
        "lines": lines_for_visitor(), "plan_fields": list(plan_labels().items()), "strings": script_strings(),
    })


@require_GET
@cacheable
def resources(request: HttpRequest) -> HttpResponse:
    categories = {"emergency": _("Emergency numbers"), "crisis": _("If you are thinking about suicide"),
                  "helpline": _("Helplines"), "reporting": _("Reporting and advice")}
    entries = list(Resource.objects.all())
    groups = [{"label": categories.get(code, code.capitalize()), "code": code,
               "resources": [r for r in entries if r.category == code]}
              for code in dict.fromkeys([*categories, *(r.category for r in entries)])]
    return render(request, "selfhelp/resources.html", {"groups": [g for g in groups if g["resources"]]})


@require_GET
@cacheable
def safety_plan(request: HttpRequest) -> HttpResponse:
    return render(request, "selfhelp/safety_plan.html", {"plan_fields": list(plan_labels().items()),
                                                         "strings": script_strings()})


def selfcheck_questions() -> list[SelfCheckQuestion]:
    return list(SelfCheckQuestion.objects.all())


def selfcheck_data(questions: list[SelfCheckQuestion], scale_scores: list[int]) -> dict[str, Any]:
    """What the page script needs to score without asking the server (the same rules as score_selfcheck)."""
    modules = {m.slug: {"title": m.title, "url": reverse("selfhelp:module", args=[m.slug])}
               for m in Module.objects.all()}
    return {
        "scale_scores": scale_scores,
        "bands": [[b.band, b.min_score] for b in SelfCheckBand.objects.all()],
        "questions": [{"key": q.key, "reverse": q.reverse, "talk_now_threshold": q.talk_now_threshold,
                       "modules": q.module_slugs} for q in questions],
        "modules": modules,
    }


@csrf_exempt  # visitor pages set no cookie, so there is no token to check; the POST changes only a counter
@require_http_methods(["GET", "POST"])
def self_check(request: HttpRequest) -> HttpResponse:
    texts = page_texts("selfcheck")
    questions = selfcheck_questions()
    scale_scores = [int(s) for s in texts.get("scale_scores", "0,1,2,3").split(",")]
    labels = [label for label in texts.get("scale_labels", "").splitlines() if label.strip()]
    choices = list(enumerate(labels))
    bands = [b.band for b in SelfCheckBand.objects.all()] + [TALK_NOW]
    band_texts = {band: texts.get(f"band-{band}", "") for band in bands}
    context: dict[str, Any] = {"texts": texts, "questions": questions, "choices": choices,
                               "band_texts": band_texts, "data": selfcheck_data(questions, scale_scores),
                               "answers": {}, "missing": [], "lines": lines_for_visitor()}
    if request.method == "POST":
        answers: dict[str, int] = {}
        # Only the choice numbers the form offers: str.isdigit() also admits "²", which int() refuses.
        offered = {str(index): index for index in range(len(scale_scores))}
        for question in questions:
            value = request.POST.get(question.key, "")
            if value in offered:
                answers[question.key] = offered[value]
        context["answers"] = answers
        context["missing"] = [q.key for q in questions if q.key not in answers]
        if questions and not context["missing"]:
            result = score_selfcheck(
                [Question(q.key, q.reverse, q.talk_now_threshold, tuple(q.module_slugs)) for q in questions],
                answers, scale_scores, [(b.band, b.min_score) for b in SelfCheckBand.objects.all()])
            increment("selfhelp.selfcheck_completed", result.band)
            modules = {m.slug: m for m in Module.objects.filter(slug__in=result.suggested_modules)}
            context.update(result=result, result_text=band_texts.get(result.band, ""),
                           suggested=[modules[s] for s in result.suggested_modules if s in modules])
        response = render(request, "selfhelp/self_check.html", context, status=200 if "result" in context else 400)
        response["Cache-Control"] = "no-store"
        return response
    return cacheable(lambda req: render(req, "selfhelp/self_check.html", context))(request)

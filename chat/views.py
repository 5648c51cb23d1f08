"""Chat pages: the visitor's pre-chat and chat page, the counsellor console, the supervisor view."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpline.accounts.access import COUNSEL, SUPERVISE, require_staff


def visitor(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/visitor.html", {})


@require_staff(COUNSEL)
def console(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/console.html", {})


@require_staff(SUPERVISE)
def supervise(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/supervise.html", {})

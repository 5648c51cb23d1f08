"""Self-help pages for visitors; nothing here reads or stores anything about the visitor."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "selfhelp/home.html", {})


def right_now(request: HttpRequest) -> HttpResponse:
    return render(request, "selfhelp/right_now.html", {})


def module_list(request: HttpRequest) -> HttpResponse:
    return render(request, "selfhelp/module_list.html", {})

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.decorators import staff_required


@require_GET
@staff_required
def deletions(request: HttpRequest) -> HttpResponse:
    return render(request, "console/pending.html", {"title": "Deletion queue"})


@require_GET
@staff_required
def exports(request: HttpRequest) -> HttpResponse:
    return render(request, "console/pending.html", {"title": "Export requests"})

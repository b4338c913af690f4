"""The import page: prompts and candidates from JSONL or CSV, every bad line reported."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.forms import refusal_context
from core.types import AuthedRequest
from labeling import importing
from labeling.access import project_for, project_nav
from labeling.forms import (
    ImportForm,
)
from labeling.models import Role
from labeling.services.imports import candidates_import, prompts_import


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, role = project_for(request.user, project_id, Role.ADMIN)
    form = ImportForm(request.POST or None, request.FILES or None, kinds=project.task_kinds)
    context = project_nav(project, role, "import") | {"form": form, "result": None, "lines": [], "error": ""}
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            fmt = importing.detect_format(upload.name)
            if form.cleaned_data["what"] == "prompts":
                result = prompts_import(
                    project=project, stream=upload, fmt=fmt, task_kind=form.cleaned_data["task_kind"] or None
                )
            else:
                result = candidates_import(project=project, stream=upload, fmt=fmt)
        except DomainError as exc:
            context |= refusal_context(exc)
            status = 400
        except ValueError as exc:  # a file name with no known format
            context["error"] = str(exc)
            status = 400
        else:
            context["result"] = result
    elif form.errors:
        status = 400
    return render(request, "labeling/import.html", context, status=status)
